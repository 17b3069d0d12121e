"""The condition of a keyset page: the rows after a cursor (a value of the order's field and
the id that breaks ties), written so that PostgreSQL reads only from the cursor on."""

from __future__ import annotations

from typing import Any

from django.db.models import Q


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
