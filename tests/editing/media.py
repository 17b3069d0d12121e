"""Real video files for the editing tests: each frame's brightness tells which frame it is."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def numbered_frames(count: int, width: int = 96, height: int = 64) -> np.ndarray:
    """Frame i is flat grey of level 8 * i (so H.264 keeps it within a level or two)."""
    levels = (np.arange(count) * 8 % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, height, width, 3)).copy()


def mp4_bytes(frames: np.ndarray, fps: int, lossless: bool = True) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv444p" if lossless else "yuv420p"
        if lossless:
            stream.options = {"qp": "0"}
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def frame_index(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 8)


def png_bytes(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, "PNG")
    return buffer.getvalue()


def rect_mask(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Black with a white rectangle (left, top, right, bottom): what the browser draws."""
    mask = np.zeros((height, width), dtype=np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    return mask


def audio_only_mp4() -> bytes:
    """An MP4 holding one AAC track and no video."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32),
                                             format="fltp", layout="mono")
        silence.sample_rate = 44100
        for index in range(20):
            silence.pts = index * 1024
            for packet in stream.encode(silence):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
