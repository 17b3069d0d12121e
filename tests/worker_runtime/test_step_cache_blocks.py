"""Balanced on the Kandinsky families' real depth: their blocks name their inputs otherwise
than diffusers' FirstBlockCache asks for them (Kandinsky 5's `visual_embed`, Kandinsky 6's fused
video and audio streams `vis` and `aud`), so a job with blocks to skip runs under the step cache
instead of failing, and a Quality job after it equals one on a pipeline that never had it.
(The tiny Kandinsky 5 has one block, which the step cache leaves alone.)"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from tests.worker_runtime.test_runtime_checkpoints import _request, _small
from worker.catalogue import CATALOGUE, build_pipeline
from worker.runtime.cache import LoadedPipeline, PipelineCache
from worker.runtime.runner import run_generation


def _kandinsky5_of_two_blocks(pipeline: Any) -> Any:
    from diffusers import Kandinsky5Transformer3DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        pipeline.transformer = Kandinsky5Transformer3DModel(
            **{**pipeline.transformer.config, "num_visual_blocks": 2}).eval()
    return pipeline


def _serving(pipeline: Any) -> PipelineCache:
    """A pipeline cache that hands out this pipeline, as if loaded on the CPU."""
    return PipelineCache(loader=lambda _: LoadedPipeline(pipeline, "cpu", "cpu"))


@pytest.mark.parametrize("preset_id", ["kandinsky5-lite-t2v", "kandinsky6-lite"])
def test_a_kandinsky_job_of_several_blocks_runs_balanced(preset_id, monkeypatch):
    preset = CATALOGUE[preset_id]
    monkeypatch.setitem(CATALOGUE, preset_id, _small(preset))

    def pipeline() -> Any:
        built = build_pipeline(preset_id, "tiny", seed=0)
        if preset.family == "kandinsky5":
            built = _kandinsky5_of_two_blocks(built)
        assert len(built.transformer.visual_transformer_blocks) == 2
        return built

    caches = {key: _serving(pipeline()) for key in ("hooked", "clean")}
    request = _request(preset, next(iter(preset.tasks)), steps=6)
    balanced = run_generation(dataclasses.replace(request, speed="balanced"),
                              lambda info: None, caches["hooked"])
    assert balanced.speed["step_cache"] == "first_block"
    assert balanced.speed["forwards"] >= 6
    after = run_generation(request, lambda info: None, caches["hooked"])
    clean = run_generation(request, lambda info: None, caches["clean"])
    assert np.array_equal(after.frames, clean.frames)
