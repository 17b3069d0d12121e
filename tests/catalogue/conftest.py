"""Fixtures for the catalogue's tests: offline, with an empty models folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _offline(offline_model_store: Path) -> None:
    """No network, no real Hugging Face cache, an empty models folder (tests/conftest.py)."""
