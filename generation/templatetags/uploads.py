from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def max_upload_mb() -> int:
    return int(settings.FRAMECRAFT_MAX_UPLOAD_MB)


@register.simple_tag
def max_lora_size() -> str:
    """The LoRA size limit as a person reads it: "512 MB", "1 GB", "1.5 GB"."""
    # A tag, not a view's context: the form is also rendered alone, after a refused upload.
    megabytes = int(settings.FRAMECRAFT_MAX_LORA_MB)
    if megabytes < 1024:
        return f"{megabytes} MB"
    return f"{megabytes / 1024:.1f}".removesuffix(".0") + " GB"
