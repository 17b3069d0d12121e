"""The edit studio's mask tools: whether "Follow a subject" can run here."""

from __future__ import annotations

from django import template

from worker.catalogue.helpers import HelperModel, helper_for

register = template.Library()


@register.simple_tag
def tracking_helper() -> HelperModel:
    """The helper model that tracks a mask (SAM 2): the form asks it is_installed."""
    return helper_for("segmentation")
