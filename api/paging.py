"""The API's cursor pages, newest first, keyed on (created_at, id): stable while rows are added
(generation.keyset, as every list of the site)."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from api.errors import ApiError
from generation import keyset

M = TypeVar("M", bound=Model)
MAX_LIMIT = 100


def page(rows: QuerySet[M], cursor: str | None, limit: int) -> tuple[list[M], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, "invalid", f"The limit must be between 1 and {MAX_LIMIT}.",
                       {"limit": f"Between 1 and {MAX_LIMIT}."})
    if cursor:
        after = keyset.read_cursor(cursor)
        if after is None:
            raise ApiError(422, "invalid", "The cursor is not one this API gave out.",
                           {"cursor": "Pass the next_cursor of the previous page as it came."})
        rows = rows.filter(keyset.after("created_at", *after))
    return keyset.next_cursor(list(rows.order_by("-created_at", "-id")[: limit + 1]), limit,
                              "created_at")
