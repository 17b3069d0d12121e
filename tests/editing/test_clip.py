"""A source video trimmed to the job's clip and resampled to the model's frame rate, once, when
the worker decodes it (generation.inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files import File

from generation.inputs import Clip, clip_frames
from tests.editing.media import frame_index, mp4_bytes, numbered_frames


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
    with pytest.raises(LookupError, match="no frames"):
        clip_frames(thirty_fps, Clip(2.0, None, 16))


def test_a_turned_phone_video_comes_out_upright(thirty_fps):
    frames = clip_frames(thirty_fps, Clip(0.0, 0.1, 16), rotation=90)
    assert frames.shape == (2, 96, 64, 3)
