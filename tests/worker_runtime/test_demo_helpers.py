"""Demo helpers on a worker: written once as a tiny checkpoint in the models folder's `.demo/`
and loaded through the same loader as real weights; none while demo models are off; a real
installed helper is loaded instead of the demo one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from worker.catalogue import HELPERS, GenerationError, helper_for
from worker.catalogue.helpers import save_helper
from worker.editing.control import make_control_track
from worker.editing.helpers import DEMO_DIR, helper_folder, load_helper
from worker.editing.tracking import track_mask


def test_a_demo_helper_is_written_once_and_loads_like_real_weights(offline_model_store: Path):
    helper = HELPERS["demo-depth"]
    folder = helper_folder(helper)
    assert folder == offline_model_store / DEMO_DIR / "demo-depth"
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert "config.json" in written and any(name.endswith(".safetensors") for name in written)
    assert helper_folder(helper) == folder  # kept, not written again
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    assert [p.name for p in folder.parent.iterdir()] == ["demo-depth"]  # no staging left
    model, processor = load_helper(helper, "cpu")
    assert type(model).__name__ == helper.model_class and processor is not None


def test_tracking_and_depth_and_pose_run_on_the_demo_helpers(offline_model_store: Path):
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    frames[:, 10:30, 20:40] = 220
    masks = track_mask(frames, [[0, 30, 20, True]], device="cpu")
    assert masks.shape == (3, 48, 64) and masks.any()
    for kind in ("depth", "pose"):
        track = make_control_track(kind, frames, device="cpu")
        assert track.shape == frames.shape and track.dtype == np.uint8


def test_demo_helpers_are_not_loaded_while_turned_off(offline_model_store: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    assert helper_folder(HELPERS["demo-sam2"]) is None
    with pytest.raises(GenerationError, match="is not installed"):
        load_helper(helper_for("segmentation"), "cpu")
    assert not (offline_model_store / DEMO_DIR).exists()


def test_an_installed_real_helper_is_loaded_instead_of_the_demo(offline_model_store: Path):
    save_helper("depth-anything-v2-small", offline_model_store / "depth-anything-v2-small")
    helper = helper_for("depth")
    assert helper_folder(helper) == offline_model_store / "depth-anything-v2-small"
    make_control_track("depth", np.zeros((2, 32, 32, 3), np.uint8), device="cpu")
    assert not (offline_model_store / DEMO_DIR / "demo-depth").exists()
