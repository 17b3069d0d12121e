"""LTX-2's tiny checkpoint, saved in the Hub's layout and loaded by the production loader:
the runner's frames and sound equal a plain diffusers call's, sample for sample, for text to
video and image to video, and the sound lasts as long as the clip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
from PIL import Image

from worker.catalogue import CATALOGUE, GenerationRequest, Task, build_pipeline
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import frames_to_uint8, run_generation

SIDE = 64


@pytest.fixture
def ltx2_folder(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    preset = CATALOGUE["ltx-2"]
    small = dataclasses.replace(preset, sizes=((SIDE, SIDE),), default_width=SIDE,
                                default_height=SIDE, default_frames=9, default_steps=2)
    monkeypatch.setitem(CATALOGUE, preset.id, small)
    folder = offline_model_store / preset.id
    build_pipeline(preset.id, "tiny", seed=0).save_pretrained(folder)
    return folder


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)


def _request(task: Task) -> GenerationRequest:
    return GenerationRequest(
        preset_id="ltx-2", prompt="a drummer on a beach", negative_prompt="muffled",
        width=SIDE, height=SIDE, num_frames=9, steps=2, guidance=4.0, seed=11, task=str(task),
        image=_image() if task == Task.I2V else None)


def _plain_diffusers(folder: Path, task: Task) -> tuple[np.ndarray, np.ndarray, int]:
    """The job as a diffusers script would write it (from the pipelines' signatures)."""
    name = "LTX2ImageToVideoPipeline" if task == Task.I2V else "LTX2Pipeline"
    pipeline = getattr(diffusers, name).from_pretrained(folder, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    extra = {"image": Image.fromarray(_image())} if task == Task.I2V else {}
    output = pipeline(prompt="a drummer on a beach", negative_prompt="muffled", height=SIDE,
                      width=SIDE, num_frames=9, frame_rate=24.0, num_inference_steps=2,
                      guidance_scale=4.0, output_type="np",
                      generator=torch.Generator("cpu").manual_seed(11), **extra)
    rate = pipeline.vocoder.config.output_sampling_rate
    return frames_to_uint8(np.asarray(output.frames[0])), output.audio[0].float().numpy(), rate


@pytest.mark.parametrize("task", [Task.T2V, Task.I2V])
def test_frames_and_sound_equal_a_plain_diffusers_call(ltx2_folder: Path, task: Task):
    result = run_generation(_request(task), lambda info: None, PipelineCache())
    frames, samples, rate = _plain_diffusers(ltx2_folder, task)
    assert result.audio is not None
    assert np.array_equal(result.frames, frames)
    assert result.audio.sample_rate == rate == 16000
    assert result.audio.samples.dtype == np.float32 and result.audio.channels == 2
    assert np.array_equal(result.audio.samples, samples)
    assert np.abs(samples).max() > 0  # a track that actually sounds
    # The toy vocoder upsamples as the real one does: the sound covers the clip.
    assert abs(result.audio.duration_s - 9 / 24) < 1 / 24


def test_a_silent_family_returns_no_sound(offline_model_store: Path):
    request = GenerationRequest(preset_id="tiny", prompt="a fox", negative_prompt="",
                                width=128, height=128, num_frames=5, steps=1, guidance=1.0,
                                seed=1)
    assert run_generation(request, lambda info: None, PipelineCache()).audio is None
