"""On a CUDA GPU: LTX-Video with eight keyframes at its default size, full-size random weights
in bf16, all on the GPU: the clip comes out whole, and the keyframes' extra tokens keep the
job's peak within what the preset's memory needs predict for that profile.

Run on a GPU machine (a few minutes, mostly building the random weights):
    python -m pytest --noconftest -p no:django -o addopts="" tests/gpu/test_gpu_keyframes.py -s
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch

from worker.catalogue import GenerationRequest, Keyframe, build_pipeline, get_preset
from worker.runtime.cache import LoadedPipeline, PipelineCache
from worker.runtime.runner import run_generation

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

LTX = "ltx-video"


def keyframe_peaks(scale: str = "full", device: str = "cuda", steps: int = 4
                   ) -> dict[str, dict[str, Any]]:
    """One job with a start image alone and one with the preset's most keyframes, at the
    preset's default size: frames, seconds per step and peak memory (GiB; 0 on a CPU)."""
    preset = get_preset(LTX)
    width, height, frames = ((preset.default_width, preset.default_height,
                              preset.default_frames) if scale == "full" else (704, 480, 17))
    dtype = torch.bfloat16 if device == "cuda" else None
    pipeline = build_pipeline(LTX, scale, device=torch.device(device), dtype=dtype)
    cache = PipelineCache(loader=lambda preset_id: LoadedPipeline(pipeline, device, "gpu"))
    rng = np.random.default_rng(0)

    def image() -> np.ndarray:
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)

    places = preset.keyframe_frames(frames)[-preset.max_keyframes:]
    results: dict[str, dict[str, Any]] = {}
    for name, keyframes in (("start image", ()),
                            ("keyframes", tuple(Keyframe(image(), f, 0.8) for f in places))):
        request = GenerationRequest(
            preset_id=LTX, task="i2v", prompt="a lighthouse in a storm, waves crashing",
            negative_prompt="", width=width, height=height, num_frames=frames, steps=steps,
            guidance=preset.default_guidance, seed=1, image=image(), keyframes=keyframes)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        result = run_generation(request, lambda info: None, cache)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
        results[name] = {"frames": result.frames.shape, "keyframes": len(keyframes),
                         "s_per_step": result.timings["denoise_s"] / steps,
                         "job_s": time.perf_counter() - started, "peak_gb": peak}
        print(name, results[name], flush=True)
    return results


def test_eight_keyframes_fit_the_presets_memory_prediction():
    preset = get_preset(LTX)
    results = keyframe_peaks()
    shape = (preset.default_frames, preset.default_height, preset.default_width, 3)
    assert results["start image"]["frames"] == results["keyframes"]["frames"] == shape
    assert results["keyframes"]["keyframes"] == preset.max_keyframes
    assert results["keyframes"]["peak_gb"] <= preset.memory.all_on_gpu_gb, results
