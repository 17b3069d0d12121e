"""The soundtrack model loads from a checkpoint on disk through the production loader (a tiny
Stable Audio 3 written as the Hub lays it out, installed in the models folder as the real
preset) and makes the same samples as a plain diffusers call; a sound as long as the video;
mixing under a video's own sound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from worker.catalogue import ErrorCode, GenerationError, GenerationRequest, StepInfo
from worker.catalogue.request import AudioTrack
from worker.catalogue.soundtrack import (
    DEMO_SOUNDTRACK,
    SOUNDTRACK_MODELS,
    STABLE_AUDIO_3,
    save_soundtrack,
    soundtrack_model,
)
from worker.editing import soundtrack


@pytest.fixture
def installed(models: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The real preset's folder holding a tiny random Stable Audio 3; demo models off, so
    only the installed one can serve."""
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cpu")
    soundtrack.forget()
    folder = save_soundtrack(DEMO_SOUNDTRACK.id, models / STABLE_AUDIO_3.id, seed=3)
    yield folder
    soundtrack.forget()


def request_for(frames: np.ndarray, prompt: str = "rain on a tin roof", seed: int = 7
                ) -> GenerationRequest:
    return GenerationRequest(
        preset_id=STABLE_AUDIO_3.id, task="soundtrack", prompt=prompt, negative_prompt="",
        width=frames.shape[2], height=frames.shape[1], num_frames=len(frames), steps=3,
        guidance=1.0, seed=seed, video=frames)


def test_the_installed_checkpoint_is_the_model_and_sounds_as_plain_diffusers(installed):
    from diffusers import StableAudio3Pipeline

    assert (installed / "model_index.json").is_file()
    assert soundtrack_model() is STABLE_AUDIO_3
    assert STABLE_AUDIO_3.installed_path() == installed
    pipeline = soundtrack.load_soundtrack(STABLE_AUDIO_3, "cpu")
    assert type(pipeline).__name__ == "StableAudio3Pipeline"

    made = soundtrack.make_sound(pipeline, "rain on a tin roof", 1.5, steps=3, guidance=1.0,
                                 seed=11)
    plain = StableAudio3Pipeline.from_pretrained(installed)
    expected = plain("rain on a tin roof", duration=1.5, num_inference_steps=3,
                     guidance_scale=1.0, generator=torch.Generator("cpu").manual_seed(11),
                     output_type="np").audios[0]
    rate = plain.vae.config.sampling_rate
    assert made.sample_rate == rate == 16000 and made.channels == 2
    assert made.samples.shape == (2, round(1.5 * rate))
    np.testing.assert_array_equal(made.samples[:, :expected.shape[1]], expected)
    assert float(np.abs(made.samples).max()) > 0  # not silence


def test_a_job_keeps_every_frame_and_its_sound_plays_as_long_as_they_do(installed):
    frames = np.random.default_rng(0).integers(0, 256, (13, 32, 48, 3), dtype=np.uint8)
    steps: list[StepInfo] = []
    result = soundtrack.run_soundtrack(request_for(frames), steps.append, fps=8)
    assert result.frames is frames or np.array_equal(result.frames, frames)
    assert result.fps == 8 and result.audio is not None
    assert result.audio.duration_s == pytest.approx(13 / 8, abs=1 / 16000)
    assert [(s.step, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]


def test_a_video_longer_than_the_model_makes_is_refused(installed):
    frames = np.zeros((8 * 121, 8, 8, 3), dtype=np.uint8)  # 121 s at 8 fps
    with pytest.raises(GenerationError) as refused:
        soundtrack.run_soundtrack(request_for(frames), lambda _: None, fps=8)
    assert refused.value.code == ErrorCode.BAD_PARAMETERS
    assert "at most 120 s" in refused.value.message


def test_without_weights_the_job_says_what_to_install(models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    assert not any(model.is_installed() for model in SOUNDTRACK_MODELS.values())
    assert soundtrack_model() is STABLE_AUDIO_3  # what an admin would install
    with pytest.raises(GenerationError) as missing:
        soundtrack.run_soundtrack(request_for(np.zeros((4, 8, 8, 3), np.uint8)),
                                  lambda _: None, fps=8)
    assert missing.value.code == ErrorCode.WEIGHTS_MISSING
    assert "stabilityai/stable-audio-3-medium" in missing.value.message


def test_under_keeps_the_source_at_full_level_and_adds_the_new_sound_at_its_volume():
    rate = 8000
    source = AudioTrack(np.full((2, rate), 0.25, np.float32), rate)
    made = AudioTrack(np.full((1, rate // 2), 0.5, np.float32), rate // 2)  # mono, other rate
    mixed = soundtrack.mix_under(source, made, 0.4)
    assert (mixed.sample_rate, mixed.channels, mixed.samples.shape[1]) == (rate, 2, rate)
    assert mixed.samples[:, 100:-100] == pytest.approx(0.25 + 0.4 * 0.5, abs=1e-3)
    loud = soundtrack.mix_under(AudioTrack(np.full((2, 100), 0.9, np.float32), 100),
                                AudioTrack(np.full((2, 100), 0.9, np.float32), 100), 1.0)
    assert float(loud.samples.max()) == 1.0  # limited, never wrapped
