"""The upscaler loads from a checkpoint on disk through the production loader (a tiny Swin2SR
written as the Hub lays it out, installed in the models folder) and upscales frames, tile by
tile, to exactly 2x or 4x their size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from worker.catalogue import HELPERS, ErrorCode, GenerationError, GenerationRequest, StepInfo
from worker.catalogue.helpers import helper_for, save_helper
from worker.editing import helpers as helper_models
from worker.editing.upscale import passes_for, run_upscale, upscale_frames, upscale_image

REAL = "swin2sr-classical-x2"  # a x2 upscaler: 4x runs it twice


@pytest.fixture
def installed_upscaler(models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real helper's folder holding a tiny random Swin2SR checkpoint; demo models off, so
    only the installed one can serve."""
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cpu")
    helper_models.forget_all()
    folder = save_helper("demo-swin2sr", models / REAL, seed=3)
    yield folder
    helper_models.forget_all()


def frames(count: int, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_an_installed_checkpoint_is_the_upscaler_and_loads_through_transformers(
        installed_upscaler):
    assert sorted(p.name for p in installed_upscaler.iterdir()) == [
        "config.json", "model.safetensors", "preprocessor_config.json"]
    helper = helper_for("upscale")
    assert helper.id == REAL and helper.installed_path() == installed_upscaler
    model, _ = helper_models.load_helper(helper, "cpu")
    assert type(model).__name__ == "Swin2SRForImageSuperResolution"
    assert model.config.upscale == 2


@pytest.mark.parametrize(("factor", "passes"), [(2, 1), (4, 2)])
def test_frames_come_out_at_exactly_the_factor_with_one_step_per_frame_and_pass(
        installed_upscaler, factor, passes):
    model, _ = helper_models.load_helper(HELPERS[REAL], "cpu")
    steps: list[tuple[int, int]] = []
    made = upscale_frames(model, frames(3, 44, 30), factor,
                          lambda done, total: steps.append((done, total)), tile=24)
    assert made.shape == (3, 30 * factor, 44 * factor, 3) and made.dtype == np.uint8
    assert steps == [(n, 3 * passes) for n in range(1, 3 * passes + 1)]


def test_tiles_join_without_seams(installed_upscaler):
    """The tiny model sees no further than the tiles' margin: tiled equals whole, but for
    float rounding (a level here and there)."""
    model, _ = helper_models.load_helper(HELPERS[REAL], "cpu")
    image = frames(1, 70, 50)[0]
    whole = upscale_image(model, image, tile=1000)
    tiled = upscale_image(model, image, tile=24, overlap=16)
    assert tiled.shape == (100, 140, 3)
    assert np.abs(whole.astype(int) - tiled).max() <= 1


def test_a_model_of_another_factor_is_run_again_or_scaled_down():
    assert passes_for(2, 2) == 1 and passes_for(2, 4) == 2
    assert passes_for(4, 2) == 1 and passes_for(4, 4) == 1
    assert passes_for(3, 4) == 2


def test_a_job_reports_every_frame_and_keeps_the_frame_rate(installed_upscaler):
    seen: list[StepInfo] = []
    request = GenerationRequest(preset_id=REAL, task="upscale", prompt="", negative_prompt="",
                                width=64, height=48, num_frames=2, steps=0, guidance=0.0,
                                seed=0, video=frames(2, 32, 24))
    result = run_upscale(request, seen.append, fps=12)
    assert result.frames.shape == (2, 48, 64, 3) and result.fps == 12
    assert [(s.step, s.total) for s in seen] == [(1, 2), (2, 2)]
    assert result.device == "cpu"


def test_a_size_that_is_not_a_multiple_of_the_source_is_refused(installed_upscaler):
    request = GenerationRequest(preset_id=REAL, task="upscale", prompt="", negative_prompt="",
                                width=65, height=48, num_frames=1, steps=0, guidance=0.0,
                                seed=0, video=frames(1, 32, 24))
    with pytest.raises(GenerationError) as refused:
        run_upscale(request, lambda step: None, fps=8)
    assert refused.value.code == ErrorCode.BAD_PARAMETERS


def test_without_weights_the_job_says_what_to_install(models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    request = GenerationRequest(preset_id=REAL, task="upscale", prompt="", negative_prompt="",
                                width=64, height=48, num_frames=1, steps=0, guidance=0.0,
                                seed=0, video=frames(1, 32, 24))
    with pytest.raises(GenerationError) as refused:
        run_upscale(request, lambda step: None, fps=8)
    assert refused.value.code == ErrorCode.WEIGHTS_MISSING
    assert f"fetch_model {REAL}" in refused.value.message
