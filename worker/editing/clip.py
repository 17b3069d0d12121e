"""The part of a source video an edit works on: from a start time, `count` frames at the
model's frame rate (nearest source frame for each), each fitted to the job's size as it is
decoded, so that a long or large upload never sits in memory whole. Django-free."""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from worker.catalogue.media import fit_image


class ClipError(ValueError):
    """The clip asked for is not in the video, said for people."""


def source_indices(source_fps: float, *, start_s: float, target_fps: float, count: int
                   ) -> list[int]:
    """The source frame shown at each of `count` instants `1 / target_fps` apart."""
    return [round((start_s + k / target_fps) * source_fps) for k in range(count)]


def read_clip(stream: Any, *, start_s: float, target_fps: float, count: int,
              size: tuple[int, int] | None = None, fit: str = "crop") -> np.ndarray:
    """(count, H, W, 3) uint8 frames from `stream`, resampled to `target_fps`; each fitted
    to `size` (width, height) by `fit` when given, else at the source's size."""
    try:
        return _read(stream, start_s=start_s, target_fps=target_fps, count=count, size=size,
                     fit=fit)
    except av.error.FFmpegError as error:
        raise ClipError(f"The video cannot be read: {error.strerror or error}.") from None


def _read(stream: Any, *, start_s: float, target_fps: float, count: int,
          size: tuple[int, int] | None, fit: str) -> np.ndarray:
    with av.open(stream) as container:
        if not container.streams.video:
            raise ClipError("The file has no video stream.")
        video = container.streams.video[0]
        rate = float(video.average_rate or video.guessed_rate or 0)
        if rate <= 0:
            raise ClipError("The video does not say its frame rate.")
        wanted = source_indices(rate, start_s=start_s, target_fps=target_fps, count=count)
        slots: dict[int, list[int]] = {}
        for slot, index in enumerate(wanted):
            slots.setdefault(index, []).append(slot)
        frames: list[np.ndarray | None] = [None] * count
        last, number = max(wanted), -1
        for number, frame in enumerate(container.decode(video=0)):
            if number in slots:
                image = frame.to_image().convert("RGB")
                if size is not None:
                    image = fit_image(image, size[0], size[1], fit, None)
                array = np.asarray(image)
                for slot in slots[number]:
                    frames[slot] = array
            if number >= last:
                break
        else:
            seconds = (number + 1) / rate
            needed = start_s + (count - 1) / target_fps
            raise ClipError(f"The video lasts {seconds:.2f} s; {count} frames at "
                            f"{target_fps:g} fps from {start_s:g} s need {needed:.2f} s.")
    return np.stack(frames)
