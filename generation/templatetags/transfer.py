from django import template

from worker.catalogue.helpers import CONTROL_KINDS

register = template.Library()


@register.filter
def control_label(kind: str) -> str:
    """What people read for a motion transfer's control kind ("depth" → "Depth")."""
    return CONTROL_KINDS.get(kind, kind)
