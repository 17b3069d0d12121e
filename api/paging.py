"""Cursor pages, newest first, keyed on (created_at, id): stable while rows are added."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime

from api.errors import ApiError
from generation import keyset

M = TypeVar("M", bound=Model)
MAX_LIMIT = 100


def _decode(cursor: str) -> tuple[object, uuid.UUID]:
    try:
        created, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        when = parse_datetime(created)
        if when is None:
            raise ValueError(created)
        return when, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(422, "invalid", "The cursor is not one this API gave out.",
                       {"cursor": "Pass the next_cursor of the previous page as it came."}
                       ) from None


def page(rows: QuerySet[M], cursor: str | None, limit: int) -> tuple[list[M], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, "invalid", f"The limit must be between 1 and {MAX_LIMIT}.",
                       {"limit": f"Between 1 and {MAX_LIMIT}."})
    if cursor:
        created, pk = _decode(cursor)
        rows = rows.filter(keyset.after("created_at", created, pk))
    items = list(rows.order_by("-created_at", "-id")[: limit + 1])
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    last = items[-1]
    token = f"{last.created_at.isoformat()}|{last.pk}"  # type: ignore[attr-defined]
    return items, base64.urlsafe_b64encode(token.encode()).decode()
