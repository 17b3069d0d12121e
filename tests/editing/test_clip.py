"""A source video trimmed to the job's clip and resampled to the model's frame rate, once, when
the worker decodes it (generation.inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files import File

from generation.inputs import Clip, clip_frames
from tests.editing.media import frame_index, mp4_bytes, numbered_frames
from worker.editing.clip import ClipError


@pytest.fixture
def thirty_fps(tmp_path: Path):
    path = tmp_path / "thirty.mp4"
    path.write_bytes(mp4_bytes(numbered_frames(30), fps=30))  # 1 s
    with path.open("rb") as stream:
        yield File(stream)


def test_a_30_fps_clip_becomes_16_fps_by_showing_the_frame_on_screen_each_sixteenth(
        thirty_fps):
    frames = clip_frames(thirty_fps, Clip(0.0, None, 16))
    assert frames.shape == (16, 64, 96, 3)
    assert [frame_index(f) for f in frames] == [int(k * 30 / 16) for k in range(16)]


def test_the_trim_picks_the_part_between_start_and_end(thirty_fps):
    frames = clip_frames(thirty_fps, Clip(0.5, 0.75, 16))
    assert [frame_index(f) for f in frames] == [15, 16, 18, 20]


def test_a_slower_source_holds_its_frames(tmp_path: Path):
    path = tmp_path / "eight.mp4"
    path.write_bytes(mp4_bytes(numbered_frames(8), fps=8))
    with path.open("rb") as stream:
        frames = clip_frames(File(stream), Clip(0.0, None, 16))
    assert [frame_index(f) for f in frames] == [k // 2 for k in range(16)]


def test_masks_decode_grey(thirty_fps):
    frames = clip_frames(thirty_fps, Clip(0.0, 0.2, 16), mode="L")
    assert frames.shape == (4, 64, 96)


def test_a_start_past_the_end_has_no_frames(thirty_fps):
    with pytest.raises(ClipError, match="no frames"):
        clip_frames(thirty_fps, Clip(2.0, None, 16))


def test_a_turned_phone_video_comes_out_upright(thirty_fps):
    frames = clip_frames(thirty_fps, Clip(0.0, 0.1, 16), rotation=90)
    assert frames.shape == (2, 96, 64, 3)


def test_tracks_and_previews_read_the_same_frames_as_the_edit(thirty_fps):
    """The control track, its preview and a tracked mask ask for `count` frames at a size:
    they get the edit's frames (the one on screen at each moment), fitted as decoded."""
    from worker.editing.clip import clip_frames as decode_clip

    edit = clip_frames(thirty_fps, Clip(0.5, None, 16))
    with open(thirty_fps.name, "rb") as stream:
        track = decode_clip(stream, start_s=0.5, fps=16, count=5)
    assert np.array_equal(track, edit[:5])
    with open(thirty_fps.name, "rb") as stream:
        small = decode_clip(stream, start_s=0.5, fps=16, count=5, size=(48, 32), fit="stretch")
    assert small.shape == (5, 32, 48, 3)


def test_a_turned_video_is_upright_before_it_is_fitted(thirty_fps):
    from PIL import Image

    from worker.catalogue.media import fit_image
    from worker.editing.clip import clip_frames as decode_clip

    upright = clip_frames(thirty_fps, Clip(0.0, 0.1, 16), rotation=90)
    with open(thirty_fps.name, "rb") as stream:
        fitted = decode_clip(stream, start_s=0.0, fps=16, count=2, rotation=90, size=(32, 48),
                             fit="stretch")
    expected = [np.asarray(fit_image(Image.fromarray(f), 32, 48, "stretch")) for f in upright]
    assert np.array_equal(fitted, np.stack(expected))


def test_a_video_too_short_for_the_frames_asked_says_how_long_it_is(thirty_fps):
    from worker.editing.clip import clip_frames as decode_clip

    with open(thirty_fps.name, "rb") as stream, \
            pytest.raises(ClipError, match=r"The video lasts 1\.00 s; 20 frames at 16 fps"):
        decode_clip(stream, start_s=0.0, fps=16, count=20)
