"""HunyuanVideo 1.5 through the worker's runtime on tiny checkpoints: its pipelines have no step
callback, so each step is reported from the scheduler's (and a cancel stops within one); its
guidance is a guider set per job; its image-to-video sizes are the pipeline's own buckets."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from worker.catalogue import (
    CATALOGUE,
    GenerationError,
    GenerationRequest,
    JobCancelled,
    StepInfo,
    build_pipeline,
    get_preset,
)
from worker.catalogue.hunyuan15 import I2V_ID, T2V_ID, bucket_base
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation

SIDE = 64


@pytest.fixture
def installed(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):
    def install(preset_id: str) -> None:
        preset = get_preset(preset_id)
        monkeypatch.setitem(CATALOGUE, preset_id, dataclasses.replace(
            preset, sizes=((SIDE, SIDE),), default_width=SIDE, default_height=SIDE,
            default_frames=5))
        build_pipeline(preset_id, "tiny", seed=0).save_pretrained(offline_model_store / preset_id)

    return install


def _request(preset_id: str, **fields: Any) -> GenerationRequest:
    media = {"image": np.full((SIDE, SIDE, 3), 90, np.uint8)} if preset_id == I2V_ID else {}
    values: dict[str, Any] = {
        "preset_id": preset_id, "task": "i2v" if preset_id == I2V_ID else "t2v",
        "prompt": "a lighthouse at dusk", "negative_prompt": "", "width": SIDE,
        "height": SIDE, "num_frames": 5, "steps": 3, "guidance": 6.0, "seed": 5, **media}
    values.update(fields)
    return GenerationRequest(**values)


def _forwards(cache: PipelineCache, preset_id: str) -> list[int]:
    seen: list[int] = []
    cache.get_loaded(preset_id).pipeline.transformer.register_forward_pre_hook(
        lambda module, args: seen.append(1))
    return seen


@pytest.mark.parametrize("preset_id", [T2V_ID, I2V_ID])
def test_every_step_is_reported_and_a_cancel_stops_within_one_step(preset_id, installed):
    installed(preset_id)
    cache = PipelineCache()
    forwards = _forwards(cache, preset_id)
    steps: list[StepInfo] = []
    run_generation(_request(preset_id), steps.append, cache)
    assert [info.step for info in steps] == [1, 2, 3]
    assert all(info.total == 3 and info.latents is not None and info.latents.ndim == 5
               for info in steps)
    assert len(forwards) == 6  # with and without the prompt, each step
    scheduler = cache.get_loaded(preset_id).pipeline.scheduler
    assert "step" not in vars(scheduler)  # the reporting wrapper is gone after the job

    forwards.clear()

    def cancel(info: StepInfo) -> None:
        raise JobCancelled("cancelled by its owner")

    with pytest.raises(JobCancelled):
        run_generation(_request(preset_id, steps=20), cancel, cache)
    assert len(forwards) == 2  # the first step's two forwards, no more
    assert "step" not in vars(scheduler)


def test_each_jobs_guidance_sets_the_guider(installed):
    installed(T2V_ID)
    cache = PipelineCache()
    forwards = _forwards(cache, T2V_ID)
    guided = run_generation(_request(T2V_ID), lambda info: None, cache).frames
    assert len(forwards) == 6
    forwards.clear()
    # Guidance 1 turns classifier-free guidance off: one forward a step.
    unguided = run_generation(_request(T2V_ID, guidance=1.0), lambda info: None, cache).frames
    assert len(forwards) == 3
    assert not np.array_equal(guided, unguided)
    assert np.array_equal(run_generation(_request(T2V_ID), lambda info: None, cache).frames,
                          guided)


def test_image_to_video_sizes_are_the_pipelines_own_buckets():
    pipeline = build_pipeline(I2V_ID, "tiny", seed=0)  # the real VAE's 16-pixel steps
    for width, height in get_preset(I2V_ID).sizes:
        assert bucket_base(pipeline, width, height) == 640  # the 480p checkpoints' base
    with pytest.raises(GenerationError) as refused:
        bucket_base(pipeline, 480, 848)
    assert "480x848 is not a size" in str(refused.value)
