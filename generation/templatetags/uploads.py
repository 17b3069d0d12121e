from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def max_upload_mb() -> int:
    return int(settings.FRAMECRAFT_MAX_UPLOAD_MB)
