"""MP4 encoding and probing, poster and preview JPEGs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from worker.runtime.encode import encode_mp4, poster_jpeg, probe_video
from worker.runtime.preview import latents_to_preview_jpeg


def _frames(count: int = 17, height: int = 96, width: int = 160) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


def test_encoded_mp4_probes_back_as_h264_yuv420p_with_its_recipe(tmp_path: Path):
    recipe = {"prompt": "a red fox — in snow", "seed": 42}
    path = tmp_path / "out.mp4"
    written = encode_mp4(_frames(), 8, path, {"title": "a red fox", "comment": json.dumps(recipe)})
    info = probe_video(path)
    assert info == written
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.frame_count) == (160, 96, 17)
    assert info.fps == 8
    assert info.duration_s == pytest.approx(17 / 8, abs=0.01)
    assert info.size_bytes == path.stat().st_size > 0
    assert info.metadata["title"] == "a red fox"
    assert json.loads(info.metadata["comment"]) == recipe


def test_odd_sizes_are_padded_to_even(tmp_path: Path):
    info = encode_mp4(_frames(5, height=95, width=161), 16, tmp_path / "odd.mp4", {})
    assert (info.width, info.height, info.frame_count) == (162, 96, 5)


def test_the_index_comes_before_the_media_so_browsers_stream_it(tmp_path: Path):
    path = tmp_path / "fast.mp4"
    encode_mp4(_frames(), 8, path, {})
    data = path.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


def test_bad_frames_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(_frames().astype(np.float32), 8, tmp_path / "bad.mp4", {})
    with pytest.raises(ValueError, match="shaped"):
        encode_mp4(_frames()[0], 8, tmp_path / "bad.mp4", {})


def test_a_failed_encode_leaves_the_old_file_and_no_partial_one(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "video.mp4"
    path.write_bytes(b"previous attempt")
    with pytest.raises(AttributeError):
        encode_mp4(_frames(), 8, path, {"comment": None})  # type: ignore[dict-item]
    assert list(out.iterdir()) == [path]
    assert path.read_bytes() == b"previous attempt"


def test_poster_is_a_valid_jpeg():
    data = poster_jpeg(_frames(1)[0])
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (160, 96)


def test_preview_of_wan_latents_is_a_jpeg_scaled_to_max_side():
    latents = torch.randn(1, 16, 21, 60, 104)
    image = Image.open(io.BytesIO(latents_to_preview_jpeg(latents)))
    assert image.format == "JPEG"
    assert image.size == (256, 148)
    assert np.asarray(image).std() > 10


def test_preview_takes_bf16_and_image_latents_and_is_stable():
    latents = torch.randn(2, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    first = latents_to_preview_jpeg(latents.to(torch.bfloat16), max_side=64)
    assert Image.open(io.BytesIO(first)).size == (64, 64)
    assert latents_to_preview_jpeg(latents.to(torch.bfloat16), max_side=64) == first


def test_preview_refuses_other_shapes():
    with pytest.raises(ValueError, match="latents"):
        latents_to_preview_jpeg(torch.zeros(16, 8))
