"""One cursor for every list: the gallery's, Explore's and the API's pages hand out the same
opaque, URL-safe token, and anything else reads as no cursor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from generation import keyset


@pytest.mark.parametrize("value", [datetime(2026, 12, 7, 23, 5, 1, 123456, tzinfo=UTC), 12.5])
def test_a_cursor_reads_back_as_its_place(value):
    pk = uuid.uuid4()
    token = keyset.cursor_of(value, pk)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    assert keyset.read_cursor(token, timed=isinstance(value, datetime)) == (value, pk)


@pytest.mark.parametrize("token", ["garbage", "", "Zm9vfGJhcg==", "%%%", "2026-12-07|x"])
def test_anything_else_is_no_cursor(token):
    assert keyset.read_cursor(token) is None
