"""The part of a source video a job works on, as every consumer of it decodes it: the edit's
source and mask, the motion transfer's control track and its preview, and the frames a subject
is tracked on. One reader, so that all of them see the same frames at the same moments, upright.

Frames come at the model's frame rate from a start time: each is the source frame on screen
at that moment (a 30 fps video becomes 16 fps by dropping frames, an 8 fps one by holding
them), turned upright and fitted to a size as it is decoded, so that a long or large upload
never sits in memory whole. Django-free.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np
from PIL import Image

from worker.catalogue.media import fit_image


class ClipError(ValueError):
    """The clip asked for is not in the video, said for people."""


def clip_frames(stream: Any, *, start_s: float, fps: float, end_s: float | None = None,
                count: int | None = None, mode: str = "RGB", rotation: int = 0,
                size: tuple[int, int] | None = None, fit: str = "crop") -> np.ndarray:
    """The frames on screen at start_s, start_s + 1/fps, ... until `end_s` (exclusive), until
    `count` frames, or to the video's end (its last frame stays for one frame's duration).

    (F, H, W, 3) uint8, or (F, H, W) for mode "L"; turned upright by `rotation` (degrees
    counter-clockwise, as the upload's probe found) and then fitted to `size` (width, height)
    by `fit` when given. Raises ClipError when the file has no readable video, or fewer
    frames than `count` (or none) from `start_s`.
    """
    try:
        return _decode(stream, start_s, fps, end_s, count, _Look(mode, rotation, size, fit))
    except av.error.FFmpegError as error:
        raise ClipError(f"The video cannot be read: {error.strerror or error}.") from None


class _Look:
    """How each chosen frame is turned into an array."""

    def __init__(self, mode: str, rotation: int, size: tuple[int, int] | None,
                 fit: str) -> None:
        self.mode, self.size, self.fit = mode, size, fit
        self.turns = (rotation // 90) % 4

    def array(self, frame: av.VideoFrame) -> np.ndarray:
        pixels = frame.to_ndarray(format="gray" if self.mode == "L" else "rgb24")
        if self.turns:
            pixels = np.ascontiguousarray(np.rot90(pixels, k=self.turns, axes=(0, 1)))
        if self.size is None:
            return pixels
        image = fit_image(Image.fromarray(pixels), self.size[0], self.size[1], self.fit, None)
        return np.asarray(image)


def _decode(stream: Any, start_s: float, fps: float, end_s: float | None, count: int | None,
            look: _Look) -> np.ndarray:
    step = 1.0 / fps
    out: list[np.ndarray] = []

    def wanted() -> float:  # the moment the next output frame shows
        return start_s + len(out) * step

    def full() -> bool:
        return count is not None and len(out) >= count

    shown: Any = None  # the source frame on screen, and its array once converted
    shown_array: np.ndarray | None = None
    first_time: float | None = None
    last_time = duration = 0.0
    with av.open(stream) as container:
        if not container.streams.video:
            raise ClipError("The file has no video stream.")
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate or video.base_rate
        duration = 1.0 / float(rate) if rate else step
        for index, frame in enumerate(container.decode(video)):
            at = frame.time if frame.time is not None else index * duration
            first_time = at if first_time is None else first_time
            at -= first_time
            until = at if end_s is None else min(at, end_s)
            while shown is not None and not full() and wanted() < until:
                if shown_array is None:
                    shown_array = look.array(shown)
                out.append(shown_array)
            if full() or (end_s is not None and at >= end_s):
                shown = None
                break
            shown, shown_array, last_time = frame, None, at
        if shown is not None:  # the last frame stays on screen for one frame's duration
            until = last_time + duration - 1e-6
            if end_s is not None:
                until = min(until, end_s)
            while not full() and wanted() < until:
                if shown_array is None:
                    shown_array = look.array(shown)
                out.append(shown_array)
    if not out:
        raise ClipError("The clip has no frames: its start is past the video's end.")
    if count is not None and len(out) < count:
        lasts = last_time + duration
        needed = start_s + (count - 1) * step
        raise ClipError(f"The video lasts {lasts:.2f} s; {count} frames at {fps:g} fps from "
                        f"{start_s:g} s need {needed:.2f} s.")
    return np.stack(out)
