"""The studio's Improve prompt button: whether a prompt model runs here, and in whose style it
writes for the chosen model."""

from __future__ import annotations

from django import template

from generation import prompt_help
from generation.presets import Preset
from worker.catalogue.helpers import HelperModel

register = template.Library()


@register.simple_tag
def prompt_enhancer() -> HelperModel | None:
    return prompt_help.enhancer()


@register.simple_tag
def prompt_help_unavailable() -> str:
    return prompt_help.unavailable_reason()


@register.filter
def prompt_style(preset: Preset | None) -> str:
    return prompt_help.style_name(preset)
