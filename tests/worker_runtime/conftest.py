"""Fixtures for the model runtime: an offline, empty model store and quick tiny requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from diffusers import WanPipeline

from worker.runtime.cache import PipelineCache
from worker.runtime.request import GenerationRequest
from worker.runtime.tiny import build_tiny_pipeline

# Small enough that a whole job takes a fraction of a second on a laptop CPU.
QUICK = {"width": 160, "height": 96, "num_frames": 5, "steps": 2, "guidance": 5.0}


@pytest.fixture(autouse=True)
def offline_model_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No network, no real Hugging Face cache, an empty models folder; returns that folder."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Bitwise comparisons with direct CPU calls need the runtime on the CPU, GPU or not.
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cpu")
    return models


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
    pipeline = build_tiny_pipeline(seed=0)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
