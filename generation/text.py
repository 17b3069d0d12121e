"""Text that PostgreSQL can store: no NUL characters and no lone UTF-16 surrogates.

JSON lets a client write both (`"\\u0000"`, `"\\ud800"`) and Python decodes them into a str,
but a text column refuses NUL and a JSON column refuses both, as a DataError at save time:
a 500. Every text field from the API or a browser is checked here first, so the answer is a
refusal that names the field. Django-free: the API schemas (shared with the client) use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

NUL_MESSAGE = "Text cannot contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Text must be valid Unicode; this has a lone surrogate (\\ud800-\\udfff)."
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def text_problems(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, message) for every unstorable string in a JSON-like value, keys too."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield path or "__all__", problem
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if problem := text_problem(name):
                yield path or "__all__", f"A name: {problem}"
                continue
            yield from text_problems(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from text_problems(item, f"{path}.{index}" if path else str(index))
