"""Fixtures for the model runtime: an offline, empty model store and quick tiny requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from diffusers import WanPipeline

from worker.catalogue import GenerationRequest, build_pipeline
from worker.runtime.cache import PipelineCache

# Small enough that a whole job takes a fraction of a second on a laptop CPU.
QUICK = {"width": 160, "height": 96, "num_frames": 5, "steps": 2, "guidance": 5.0}


@pytest.fixture(autouse=True)
def _offline(offline_model_store: Path) -> None:
    """Every runtime test runs offline on an empty models folder (tests/conftest.py)."""


@pytest.fixture
def make_request() -> Callable[..., GenerationRequest]:
    """A quick tiny-model request; keyword arguments override its fields."""

    def make(**overrides: Any) -> GenerationRequest:
        fields: dict[str, Any] = {
            "preset_id": "tiny",
            "prompt": "a red fox running through snow",
            "negative_prompt": "",
            "seed": 1234,
            **QUICK,
        }
        fields.update(overrides)
        return GenerationRequest(**fields)

    return make


@pytest.fixture
def cache() -> PipelineCache:
    """A fresh cache with the production loader."""
    return PipelineCache()


@pytest.fixture
def tiny_pipeline() -> WanPipeline:
    """The tiny pipeline as the tiny preset builds it, outside any cache."""
    return build_pipeline("tiny", "tiny", seed=0)
