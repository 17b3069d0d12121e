"""On a CUDA GPU: the edit tasks (a VACE masked edit and extension, an LTX-Video restyle that
encodes its source video itself, an LTX extension) run through the production loader under
every memory profile, and offloading does not change what they make.

Run on a GPU machine: `python -m pytest --noconftest -p no:django -o addopts="" tests/gpu`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.gpu.stores import offline_store
from worker.catalogue import GenerationRequest
from worker.runtime.cache import PipelineCache
from worker.runtime.memory import GPU_PROFILES
from worker.runtime.runner import run_generation

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

VACE, LTX = "wan2.1-vace-1.3b", "ltx-video"


@pytest.fixture
def gpu_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_store(tmp_path, monkeypatch, (VACE, LTX), eager=True)


def _requests() -> list[GenerationRequest]:
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (17, 480, 832, 3), dtype=np.uint8)
    mask = np.zeros((9, 480, 832), np.uint8)
    mask[:, 120:360, 200:600] = 255
    ltx_video = rng.integers(0, 256, (17, 480, 704, 3), dtype=np.uint8)
    common = {"prompt": "a red boat", "negative_prompt": "", "steps": 2, "seed": 5}
    return [
        GenerationRequest(preset_id=VACE, task="edit", width=832, height=480, num_frames=9,
                          guidance=5.0, video=video[:9], mask=mask, **common),
        GenerationRequest(preset_id=VACE, task="extend", width=832, height=480, num_frames=13,
                          guidance=5.0, video=video[-5:], **common),
        GenerationRequest(preset_id=LTX, task="v2v", width=704, height=480, num_frames=17,
                          guidance=3.0, video=ltx_video, strength=0.6, **common),
        GenerationRequest(preset_id=LTX, task="extend", width=704, height=480, num_frames=25,
                          guidance=3.0, video=ltx_video[-9:], **common),
    ]


def _run(request: GenerationRequest, profile: str) -> np.ndarray:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAMECRAFT_MEMORY_PROFILE", profile)
        cache = PipelineCache()
        result = run_generation(request, lambda info: None, cache)
        assert result.memory_profile == profile
        cache.clear()
    return result.frames


@pytest.mark.parametrize("index", range(4), ids=["vace-edit", "vace-extend", "ltx-v2v",
                                                 "ltx-extend"])
def test_edits_make_the_same_video_under_every_memory_profile(gpu_store, index):
    request = _requests()[index]
    reference = _run(request, "gpu")
    assert reference.shape == (request.num_frames, request.height, request.width, 3)
    for profile in GPU_PROFILES[1:]:
        frames = _run(request, str(profile))
        # Offloading moves weights, not arithmetic: at most bf16 kernel-order noise.
        assert np.abs(frames.astype(int) - reference).max() <= 3, profile
