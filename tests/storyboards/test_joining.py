"""The join's frames and sound, on arrays: cuts follow each other, a continuation shares its
first frame with the shot before (colour-matched), shots of another size or frame rate are
fitted to the first, and the sound is as long as the picture with silence under silent
shots."""

from __future__ import annotations

import numpy as np
import pytest

from storyboards.joining import Clip, join_clips
from worker.catalogue.request import AudioTrack


def ramp(count: int, base: int, size: tuple[int, int] = (16, 16)) -> np.ndarray:
    """Frames whose brightness climbs one level a frame from `base`, with some texture."""
    texture = (np.arange(size[0] * size[1]).reshape(size) % 7).astype(np.int16)
    return np.stack([np.repeat((texture + base + i)[:, :, None], 3, axis=2)
                     for i in range(count)]).clip(0, 255).astype(np.uint8)


def tone(seconds: float, rate: int = 16000, level: float = 0.5) -> AudioTrack:
    t = np.arange(round(seconds * rate)) / rate
    wave = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return AudioTrack(np.stack([wave, wave]), rate)


def test_a_cut_lays_the_shots_end_to_end():
    a, b = ramp(5, 10), ramp(4, 200)
    frames, fps, sound = join_clips([Clip(a, 8, None, False), Clip(b, 8, None, False)])
    assert fps == 8 and sound is None
    assert np.array_equal(frames, np.concatenate([a, b]))


def test_a_continuation_shares_one_frame_and_is_colour_matched():
    a = ramp(5, 100)
    # The continuation re-draws a's last frame 30 levels too bright, and goes on from it.
    b = ramp(4, 104 + 30)
    frames, _, _ = join_clips([Clip(a, 8, None, False), Clip(b, 8, None, True)])
    assert len(frames) == 5 + 4 - 1
    assert np.array_equal(frames[:4], a[:4])
    # Matched: the continuation carries on from a's last frame with no jump in brightness.
    means = frames.reshape(len(frames), -1).mean(axis=1)
    steps = np.diff(means)
    assert np.allclose(steps, 1.0, atol=0.6), steps


def test_other_sizes_and_frame_rates_are_fitted_to_the_first_shot():
    a = ramp(8, 50, (16, 16))
    b = ramp(16, 90, (32, 24))  # 16 fps: half as many frames at 8 fps
    frames, fps, _ = join_clips([Clip(a, 8, None, False), Clip(b, 16, None, False)])
    assert fps == 8 and frames.shape == (8 + 8, 16, 16, 3)


@pytest.mark.parametrize("continuing", [False, True])
def test_the_sound_is_as_long_as_the_picture_with_silence_under_a_silent_shot(continuing):
    a, b = ramp(16, 40), ramp(8, 41 + 15)
    frames, fps, sound = join_clips([Clip(a, 8, tone(2.0), False),
                                     Clip(b, 8, None, continuing)])
    assert sound is not None and sound.sample_rate == 16000 and sound.channels == 2
    assert sound.duration_s == pytest.approx(len(frames) / fps, abs=0.03)
    heard = np.abs(sound.samples)
    assert heard[:, : 16000].mean() > 0.2  # the first shot's tone
    assert heard[:, int(16000 * 2.1):].max() < 1e-3  # silence under the second
