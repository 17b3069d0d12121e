"""On a CUDA GPU: control tracks and mask tracking run through the production loader on the
GPU and agree with the CPU (tiny random helper checkpoints, saved and loaded as installed).

Run on a GPU machine: `python -m pytest --noconftest -p no:django -o addopts="" tests/gpu`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worker.catalogue.helpers import HELPERS, save_helper
from worker.editing.control import make_control_track
from worker.editing.tracking import track_mask

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(tmp_path))
    for helper_id in HELPERS:
        save_helper(helper_id, tmp_path / helper_id)


def _clip(frames: int = 9, height: int = 96, width: int = 160) -> np.ndarray:
    clip = np.full((frames, height, width, 3), 30, np.uint8)
    for index in range(frames):
        clip[index, 24:72, 10 + 5 * index: 50 + 5 * index] = (230, 190, 60)
    return clip


@pytest.mark.parametrize("kind", ["depth", "pose"])
def test_helper_tracks_on_the_gpu_match_the_cpu(helpers, kind):
    clip = _clip()
    on_gpu = make_control_track(kind, clip, device="cuda")
    on_cpu = make_control_track(kind, clip, device="cpu")
    assert on_gpu.shape == clip.shape
    # Kernels differ in the last bits: a few grey levels at most, on few pixels.
    difference = np.abs(on_gpu.astype(int) - on_cpu.astype(int))
    assert np.mean(difference > 2) < 0.01


def test_mask_tracking_on_the_gpu_matches_the_cpu(helpers):
    clip = _clip()
    clicks = [(0, 30, 48, True), (5, 5, 5, False)]
    on_gpu = track_mask(clip, clicks, device="cuda")
    on_cpu = track_mask(clip, clicks, device="cpu")
    assert on_gpu.shape == (9, 96, 160)
    assert np.mean(on_gpu != on_cpu) < 0.01
