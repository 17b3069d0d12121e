"""On a CUDA GPU: every memory profile runs a checkpoint through the production loader, and a
cancelled job stops within one step and gives its GPU memory back.

Run on a GPU machine: `pytest tests/gpu -m gpu` (skipped, with the reason, without CUDA).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.gpu.stores import WAN, offline_store, wan_request
from worker.catalogue import (
    CATALOGUE,
    GenerationRequest,
    JobCancelled,
    StepInfo,
    build_pipeline,
)
from worker.runtime.cache import LoadedPipeline, PipelineCache
from worker.runtime.memory import GPU_PROFILES, MemoryProfile, gpu_memory, plan_for
from worker.runtime.runner import run_generation

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _request(**overrides: object) -> GenerationRequest:
    return wan_request(2, **overrides)


@pytest.fixture
def gpu_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_store(tmp_path, monkeypatch, (WAN,), eager=True)


def _frames(**env: str) -> tuple[np.ndarray, str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        cache = PipelineCache()
        result = run_generation(_request(), lambda info: None, cache)
        cache.clear()
    return result.frames, result.memory_profile


def test_every_memory_profile_makes_the_same_video_as_all_on_gpu(gpu_store):
    reference, profile = _frames(FRAMECRAFT_MEMORY_PROFILE="gpu")
    assert profile == "gpu"
    for candidate in GPU_PROFILES[1:]:
        frames, used = _frames(FRAMECRAFT_MEMORY_PROFILE=str(candidate))
        assert used == candidate
        # Offloading moves weights, not arithmetic: at most bf16 kernel-order noise.
        assert np.abs(frames.astype(int) - reference).max() <= 3, candidate


def test_fp8_storage_and_vae_tiling_run(gpu_store):
    frames, used = _frames(FRAMECRAFT_MEMORY_PROFILE="group_offload_leaf", FRAMECRAFT_FP8="1",
                           FRAMECRAFT_VAE_TILING="1")
    assert used == "group_offload_leaf"
    assert frames.shape == (9, 480, 832, 3)


def test_an_h200_class_gpu_keeps_every_preset_whole():
    gpu = gpu_memory(torch.device("cuda"))
    if gpu.total_gb < 130:
        pytest.skip("the expectation is for a 141 GB GPU")
    for preset in CATALOGUE.values():
        assert plan_for(preset, gpu).profile == MemoryProfile.GPU, preset.id


def test_a_cancelled_job_stops_within_one_step_and_frees_gpu_memory(monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cuda")
    # Memory profiles move weights, not arithmetic: eager against eager (measured on an H200,
    # compiled blocks against eager ones differ by more than kernel-order noise on random
    # weights; compile's own numerics are test_gpu_speed's).
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "0")
    pipeline = build_pipeline(WAN, "full", device="cuda", dtype=torch.bfloat16)
    cache = PipelineCache(loader=lambda preset_id: LoadedPipeline(pipeline, "cuda", "gpu"))
    cache.get(WAN)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    steps: list[int] = []
    cancelled_at: list[float] = []

    def on_step(info: StepInfo) -> None:
        steps.append(info.step)
        if info.step == 2:
            cancelled_at.append(time.perf_counter())
            raise JobCancelled("user asked")

    request = _request(num_frames=81, steps=20)
    started = time.perf_counter()
    with pytest.raises(JobCancelled):
        run_generation(request, on_step, cache)
    torch.cuda.synchronize()
    stopped = time.perf_counter()
    assert steps == [1, 2]
    step_s = (cancelled_at[0] - started) / 2
    assert stopped - cancelled_at[0] < step_s, "stopped within one step of the cancel"
    after = torch.cuda.memory_allocated()
    assert after - before < 32 * 2**20, f"{(after - before) / 2**20:.0f} MiB still held"
