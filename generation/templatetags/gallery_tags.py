"""The gallery's tiles: a video's kind in a word."""

from __future__ import annotations

from django import template

register = template.Library()

# What a tile's badge says of each task (the full names are the Kind filter's).
KIND_WORDS = {"t2v": "Text", "i2v": "Image", "v2v": "Restyle", "edit": "Edit",
              "extend": "Extend", "personalize": "Subject", "control": "Motion"}


@register.filter
def kind_word(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.capitalize())
