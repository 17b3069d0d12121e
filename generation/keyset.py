"""Keyset pages, for every list of the site and the API: the rows after a cursor (a value of
the order's field and the id that breaks ties), written so that PostgreSQL reads only from the
cursor on, and the cursor itself, one opaque, URL-safe token for every list."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_datetime


def after(field: str, value: Any, pk: Any, descending: bool = True) -> Q:
    """Rows beyond (`value`, `pk`) in the order `field`, id (both descending or ascending).

    "field beyond value, or equal and id beyond", with the first term alone (``field <=
    value``) added: it bounds the index range, so a deep page starts at its cursor. Written
    only as the OR, PostgreSQL walks the index from the top and filters every row before the
    cursor (a page in the middle of a million videos read half a million rows).
    """
    beyond = "lt" if descending else "gt"
    return Q(**{f"{field}__{beyond}e": value}) & (
        Q(**{f"{field}__{beyond}": value}) | Q(**{f"id__{beyond}": pk}))


def up_to(field: str, value: Any, pk: Any, descending: bool = True) -> Q:
    """Rows up to and including (`value`, `pk`) in the order `field`, id: the rows before a
    bound, written as `after` is (the first term bounds the index range)."""
    before = "gt" if descending else "lt"
    return Q(**{f"{field}__{before}e": value}) & (
        Q(**{f"{field}__{before}": value}) | Q(**{f"id__{before}e": pk}))


def cursor_of(value: datetime | float, pk: Any) -> str:
    """The token of a place in an order: after the row whose field is `value` and id `pk`."""
    key = value.isoformat() if isinstance(value, datetime) else repr(value)
    return base64.urlsafe_b64encode(f"{key}|{pk}".encode()).decode()


def read_cursor(token: str, timed: bool = True) -> tuple[datetime | float, uuid.UUID] | None:
    """The (value, id) a token of `cursor_of` names, None for anything else. `timed`: the
    order's field is a time (else a number)."""
    try:
        raw, pk = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        value: datetime | float | None = parse_datetime(raw) if timed else float(raw)
        return None if value is None else (value, uuid.UUID(pk))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


def next_cursor(items: list[Any], size: int, field: str) -> tuple[list[Any], str | None]:
    """A page's rows (`size` of them at most, read as size + 1 to see whether more follow)
    and the cursor of the next page, None on the last."""
    if len(items) <= size:
        return items, None
    items = items[:size]
    return items, cursor_of(getattr(items[-1], field), items[-1].pk)
