"""A video's sound in its MP4: AAC beside the H.264 picture, as long as the picture, at the
rate it was made at; a silent video stays silent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.sound.media import dominant_hz, heard, tone
from worker.catalogue.request import AudioTrack
from worker.runtime.encode import encode_mp4, fitted_audio, probe_video


def _frames(count: int = 17) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 64, 96, 3), dtype=np.uint8)


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
def test_sound_is_muxed_as_aac_at_its_rate_and_lasts_as_long_as_the_picture(tmp_path, rate):
    path = tmp_path / "v.mp4"
    # The model's sound runs a little short of the clip (LTX-2's does by a few ms).
    info = encode_mp4(_frames(), 8, path, {}, audio=tone(2.1, rate, hz=500))
    got = heard(path)
    assert got is not None
    assert (got.codec, got.sample_rate, got.channels) == ("aac", rate, 2)
    assert abs(got.duration_s - got.video_duration_s) <= 1 / got.fps
    assert got.video_duration_s == pytest.approx(17 / 8, abs=1e-3)
    assert (info.audio_codec, info.sample_rate, info.audio_channels) == ("aac", rate, 2)
    assert info.has_audio and info == probe_video(path)
    # What plays is the tone that went in.
    middle = got.samples[:, rate // 2: rate // 2 + 4096]
    assert dominant_hz(middle, rate) == pytest.approx(500, abs=rate / 4096)


def test_longer_sound_is_cut_at_the_last_frame_and_mono_stays_mono(tmp_path):
    path = tmp_path / "v.mp4"
    info = encode_mp4(_frames(9), 8, path, {}, audio=tone(5.0, 24000, channels=1))
    got = heard(path)
    assert got is not None and got.channels == 1
    assert got.duration_s == pytest.approx(9 / 8, abs=1 / 8)
    assert info.audio_duration_s == pytest.approx(9 / 8, abs=1 / 8)


def test_a_silent_video_has_no_audio_stream(tmp_path):
    path = tmp_path / "v.mp4"
    info = encode_mp4(_frames(), 8, path, {})
    assert heard(path) is None
    assert not info.has_audio and info.sample_rate == 0


def test_sound_is_fitted_to_the_sample_and_clipped_to_full_scale():
    loud = AudioTrack(np.full((2, 100), 3.0, np.float32), 16000)
    fitted = fitted_audio(loud, 150 / 16000)
    assert fitted.samples.shape == (2, 150)
    assert fitted.samples[:, :100].max() == 1.0
    assert not fitted.samples[:, 100:].any()


def test_sound_the_encoder_cannot_write_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="channels"):
        encode_mp4(_frames(), 8, tmp_path / "v.mp4", {},
                   audio=AudioTrack(np.zeros((6, 1000), np.float32), 16000))
    with pytest.raises(ValueError, match="too low"):
        encode_mp4(_frames(), 8, tmp_path / "v.mp4", {},
                   audio=AudioTrack(np.zeros((2, 1000), np.float32), 4000))
    assert not (tmp_path / "v.mp4").exists()
