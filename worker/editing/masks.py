"""Mask maths for masked edits and reframing: numpy and Pillow only (the worker applies them
when it builds a job's request; the web tier reads `has_marks` to refuse an empty mask).

A mask here is a boolean array, True where the model is to make new pixels. Masks arrive as
8-bit greyscale, drawn (a PNG, anti-aliased at its edges) or uploaded (a video, perhaps lossily
compressed), so anything at or above mid-grey counts as marked: compression noise and soft
brush edges never leak into the area.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

Anchor = Literal["start", "centre", "end"]
ANCHORS: tuple[Anchor, ...] = ("start", "centre", "end")
THRESHOLD = 128
# VACE reads this grey as "nothing here yet: make it".
EMPTY_GREY = 127


def marked(mask: np.ndarray) -> np.ndarray:
    """8-bit greyscale (H, W) or (F, H, W) to booleans: True at mid-grey and above."""
    return np.asarray(mask) >= THRESHOLD


def has_marks(mask: np.ndarray) -> bool:
    return bool(marked(mask).any())


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A boolean mask (H, W) or (F, H, W) at width x height (nearest neighbour: no new greys)."""
    if mask.shape[-2:] == (height, width):
        return mask
    frames = mask[None] if mask.ndim == 2 else mask
    out = np.stack([np.asarray(Image.fromarray(frame.astype(np.uint8) * 255).resize(
        (width, height), Image.Resampling.NEAREST)) >= THRESHOLD for frame in frames])
    return out[0] if mask.ndim == 2 else out


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The marked area widened by `pixels` in every direction (a disc, not a square), per
    frame; negative shrinks it."""
    if pixels == 0:
        return mask
    from scipy import ndimage

    frames = mask[None] if mask.ndim == 2 else mask
    out = np.empty_like(frames)
    for index, frame in enumerate(frames):
        if pixels > 0:
            out[index] = ndimage.distance_transform_edt(~frame) <= pixels
        else:
            out[index] = ndimage.distance_transform_edt(frame) > -pixels
    return out[0] if mask.ndim == 2 else out


def feather(mask: np.ndarray, pixels: int) -> np.ndarray:
    """A soft alpha in [0, 1] (float32, same shape): the mask's edge blurred over about
    `pixels`; 0 gives the mask itself as 0 and 1."""
    if pixels <= 0:
        return mask.astype(np.float32)
    frames = mask[None] if mask.ndim == 2 else mask
    blur = ImageFilter.GaussianBlur(radius=pixels / 2)
    out = np.stack([np.asarray(Image.fromarray(frame.astype(np.uint8) * 255).filter(blur),
                               dtype=np.float32) / 255.0 for frame in frames])
    return out[0] if mask.ndim == 2 else out


def repaint_area(mask: np.ndarray, mode: str, width: int, height: int, num_frames: int,
                 grow_px: int = 0) -> np.ndarray:
    """What the model is to make, (F, H, W) booleans at the job's size, from a drawn or
    uploaded mask: "change" repaints the marked area, "keep" everything else. A single mask
    (H, W) stays fixed over the clip."""
    area = resize_mask(marked(mask), width, height)
    if mode == "keep":
        area = ~area
    elif mode != "change":
        raise ValueError(f"unknown mask mode {mode!r}")
    area = grow(area, grow_px)
    if area.ndim == 2:
        return np.broadcast_to(area, (num_frames, height, width)).copy()
    if len(area) < num_frames:
        raise ValueError(f"the mask has {len(area)} frames; the clip has {num_frames}")
    return area[:num_frames]


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 frames (F, H, W, 3) at width x height (Lanczos)."""
    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([np.asarray(Image.fromarray(frame).resize(
        (width, height), Image.Resampling.LANCZOS)) for frame in frames])


def placement(source_size: tuple[int, int], width: int, height: int, anchor: str
              ) -> tuple[int, int, int, int]:
    """Where a source of `source_size` (w, h) sits, scaled to fit inside width x height with
    its shape kept, at `anchor` along the free axis: (left, top, inner_w, inner_h)."""
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, not {anchor!r}")
    src_w, src_h = source_size
    scale = min(width / src_w, height / src_h)
    inner_w = max(1, min(width, round(src_w * scale)))
    inner_h = max(1, min(height, round(src_h * scale)))
    free_w, free_h = width - inner_w, height - inner_h
    offset = {"start": 0.0, "centre": 0.5, "end": 1.0}[anchor]
    return round(free_w * offset), round(free_h * offset), inner_w, inner_h


def reframe_canvas(frames: np.ndarray, width: int, height: int, anchor: str,
                   grow_px: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The source frames placed on a width x height canvas of VACE's empty grey, and the
    area to generate (everything around them, widened into the source by `grow_px` so the
    seam is redrawn too)."""
    left, top, inner_w, inner_h = placement((frames.shape[2], frames.shape[1]), width, height,
                                            anchor)
    canvas = np.full((len(frames), height, width, 3), EMPTY_GREY, dtype=np.uint8)
    canvas[:, top:top + inner_h, left:left + inner_w] = resize_frames(frames, inner_w, inner_h)
    area = np.ones((height, width), dtype=bool)
    area[top:top + inner_h, left:left + inner_w] = False
    area = grow(area, grow_px)
    return canvas, np.broadcast_to(area, (len(frames), height, width)).copy()


def composite(source: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Generated pixels where alpha is 1, the source's where 0, blended between: what the
    user kept stays exactly as it was."""
    weight = alpha[..., None] if alpha.ndim == generated.ndim - 1 else alpha
    mixed = source.astype(np.float32) * (1.0 - weight) + generated.astype(np.float32) * weight
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def as_grey_frames(area: np.ndarray) -> np.ndarray:
    """Boolean (F, H, W) as the 0/255 greyscale frames pipelines take."""
    return area.astype(np.uint8) * 255
