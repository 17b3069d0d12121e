"""Sound on the pages: a video's or an upload's track, said in a line or a badge."""

from __future__ import annotations

from typing import Any

from django import template

from generation import sound

register = template.Library()


@register.filter
def has_sound(item: Any) -> bool:
    return sound.has_sound(item)


@register.filter
def sound_line(item: Any) -> str:
    return sound.describe(sound.sound_of(item))
