"""Kandinsky 6's tiny checkpoints, saved in the Hub's layout and loaded by the production
loader: the runner's frames and sound equal a plain diffusers call's, sample for sample, for
text to video and image to video and for the distilled Preview (PiFlow), and the sound is mono
at the audio VAE's rate and lasts as long as the clip."""

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
BASE = "kandinsky6-lite"
PREVIEW = "kandinsky6-lite-preview"


@pytest.fixture
def folders(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    made = {}
    for preset_id in (BASE, PREVIEW):
        preset = CATALOGUE[preset_id]
        small = dataclasses.replace(preset, sizes=((SIDE, SIDE),), default_width=SIDE,
                                    default_height=SIDE, default_frames=9, default_steps=2)
        monkeypatch.setitem(CATALOGUE, preset_id, small)
        made[preset_id] = offline_model_store / preset_id
        build_pipeline(preset_id, "tiny", seed=0).save_pretrained(made[preset_id])
    return made


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)


def _request(task: Task, speed: str) -> GenerationRequest:
    return GenerationRequest(
        preset_id=BASE, prompt="a drummer on a beach", negative_prompt="muffled",
        width=SIDE, height=SIDE, num_frames=9, steps=2, guidance=5.0, seed=11, task=str(task),
        image=_image() if task == Task.I2V else None, speed=speed)


def _plain_diffusers(folder: Path, task: Task, guidance: float
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """The job as a diffusers script would write it (from the pipeline's signature)."""
    pipeline = diffusers.Kandinsky6TI2VAPipeline.from_pretrained(folder, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    extra = {"image": Image.fromarray(_image())} if task == Task.I2V else {}
    output = pipeline(prompt="a drummer on a beach", negative_prompt="muffled", height=SIDE,
                      width=SIDE, num_frames=9, frame_rate=24.0, num_inference_steps=2,
                      guidance_scale=guidance, output_type="np",
                      generator=torch.Generator("cpu").manual_seed(11), **extra)
    return (frames_to_uint8(np.asarray(output.frames[0])), np.asarray(output.audio[0]),
            pipeline.audio_sample_rate)


@pytest.mark.parametrize(("task", "speed"), [(Task.T2V, "quality"), (Task.I2V, "quality"),
                                             (Task.T2V, "preview"), (Task.I2V, "preview")])
def test_frames_and_sound_equal_a_plain_diffusers_call(folders: dict[str, Path], task: Task,
                                                       speed: str):
    result = run_generation(_request(task, speed), lambda info: None, PipelineCache())
    ran = PREVIEW if speed == "preview" else BASE
    assert result.speed["preset"] == ran
    guidance = CATALOGUE[ran].default_guidance if speed == "preview" else 5.0
    frames, samples, rate = _plain_diffusers(folders[ran], task, guidance)
    assert result.audio is not None
    assert np.array_equal(result.frames, frames)
    assert result.audio.sample_rate == rate == 16000
    assert result.audio.samples.dtype == np.float32 and result.audio.channels == 1
    assert np.array_equal(result.audio.samples[0], samples)
    assert np.abs(samples).max() > 0  # a track that actually sounds
    # The toy vocoder upsamples as the real one does: the sound covers the clip.
    assert abs(result.audio.duration_s - 9 / 24) < 1 / 24


def test_the_preview_runs_the_distilled_model_at_its_steps_without_guidance():
    preview = CATALOGUE[PREVIEW]
    assert (preview.preview_of, preview.default_steps, preview.default_guidance,
            preview.max_guidance) == (BASE, 10, 1.0, 1.0)
    assert preview.source == "kandinskylab/Kandinsky-6.0-Lite-distill-5s-Diffusers"
    # Its transformer predicts the PiFlow grid its scheduler integrates.
    pipeline = build_pipeline(PREVIEW, "tiny", seed=0)
    assert type(pipeline.scheduler).__name__ == "PiflowScheduler"
    grid = pipeline.scheduler.config.n_grid
    config = pipeline.transformer.config
    assert (config.out_visual_dim, config.out_audio_dim) == (
        config.in_visual_dim * grid, config.in_audio_dim * grid)
