"""A source's sound cut and joined as its frames are: the clip's stretch from its start, a
join crossfaded with no click at the cut, an extension by a silent model faded out."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sound.media import dominant_hz, ramp, tone
from worker.catalogue.request import AudioTrack
from worker.editing import audio
from worker.runtime.encode import encode_mp4


def test_a_segment_is_the_stretch_from_its_start_with_silence_past_the_ends():
    track = ramp(1.0)
    part = audio.segment(track, 0.25, 0.5)
    assert part.samples.shape == (2, 8000)
    assert np.array_equal(part.samples, track.samples[:, 4000:12000])
    late = audio.segment(track, 0.75, 0.5)
    assert np.array_equal(late.samples[:, :4000], track.samples[:, 12000:])
    assert not late.samples[:, 4000:].any()


def test_read_audio_times_the_sound_from_the_first_frame(tmp_path):
    frames = np.zeros((16, 64, 64, 3), np.uint8)
    # 0.5 s at 440 Hz, then 1.5 s at 880 Hz: a clip from 1.0 s hears only the second tone.
    first, second = tone(0.5, 24000, hz=440), tone(1.5, 24000, hz=880)
    track = AudioTrack(np.concatenate([first.samples, second.samples], axis=1), 24000)
    path = tmp_path / "source.mp4"
    encode_mp4(frames, 8, path, {}, audio=track)
    with path.open("rb") as stream:
        whole = audio.read_audio(stream)
    assert whole is not None and whole.sample_rate == 24000
    assert whole.duration_s == pytest.approx(2.0, abs=0.01)
    with path.open("rb") as stream:
        clip = audio.read_audio(stream, start_s=1.0, duration_s=0.5)
    assert clip is not None and clip.samples.shape == (2, 12000)
    assert dominant_hz(clip.samples, 24000) == pytest.approx(880, abs=10)
    head = audio.segment(whole, 0.1, 0.3)
    assert dominant_hz(head.samples, 24000) == pytest.approx(440, abs=10)


def test_a_silent_file_has_no_sound_to_read(tmp_path):
    path = tmp_path / "silent.mp4"
    encode_mp4(np.zeros((8, 64, 64, 3), np.uint8), 8, path, {})
    with path.open("rb") as stream:
        assert audio.read_audio(stream) is None


def test_a_join_crossfades_over_the_overlap_without_a_click():
    source, made = tone(2.0, 16000, hz=300), tone(1.5, 24000, hz=700, level=0.8)
    joined = audio.join(source, made, overlap_s=0.5)
    # At the source's rate: 2 s of source, then the 1.5 s continuation less its 0.5 s overlap.
    assert joined.sample_rate == 16000
    assert joined.duration_s == pytest.approx(3.0, abs=1e-3)
    assert dominant_hz(joined.samples[:, :16000], 16000) == pytest.approx(300, abs=4)
    assert dominant_hz(joined.samples[:, -16000:], 16000) == pytest.approx(700, abs=4)
    # No sample steps further at the cut's edges than the louder tone's own steepest slope.
    steepest = 0.8 * 2 * np.pi * 700 / 16000
    for edge in (1.5, 2.0):
        assert audio.edge_step(joined, edge) <= steepest * 1.05
    # A hard cut (here where the source crosses zero and the continuation peaks, a quarter
    # of its period on) would click: the step is far above it.
    hard = AudioTrack(np.concatenate([source.samples[:, :24000],
                                      audio.converted(made, 16000, 2).samples[:, 8006:]],
                                     axis=1), 16000)
    assert audio.edge_step(hard, 1.5) > steepest * 2


def test_an_extension_with_no_sound_fades_the_source_out_then_is_silent():
    source = tone(1.0, 16000, hz=440)
    longer = audio.then_silence(source, 2.5)
    assert longer.samples.shape == (2, 40000)
    assert not longer.samples[:, 16000:].any()
    assert abs(longer.samples[0, 15999]) < 1e-3  # faded to nothing at the cut
    assert np.array_equal(longer.samples[:, :15000], source.samples[:, :15000])


def test_conversion_keeps_the_pitch_and_the_length():
    made = tone(1.0, 24000, hz=1000, channels=1)
    wide = audio.converted(made, 48000, 2)
    assert wide.samples.shape == (2, 48000)
    assert dominant_hz(wide.samples[:, 8000:40000], 48000) == pytest.approx(1000, abs=3)
