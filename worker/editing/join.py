"""Joining a continuation to the clip it continues, with no jump and no colour shift at the cut.

A continuation is made with the clip's last frames as context, so its first `overlap` frames
re-draw those frames. Its colours are matched to the clip's over that overlap (per channel mean
and spread: models drift in exposure and tint), then the overlap is crossfaded from the clip's
frames to the continuation's, so the picture changes gradually instead of at one frame.
"""

from __future__ import annotations

import numpy as np


def match_colour(frames: np.ndarray, generated_overlap: np.ndarray,
                 source_overlap: np.ndarray) -> np.ndarray:
    """`frames` with each channel shifted and scaled so that `generated_overlap`'s mean and
    spread would equal `source_overlap`'s (the same correction for every frame)."""
    gen = generated_overlap.reshape(-1, 3).astype(np.float64)
    src = source_overlap.reshape(-1, 3).astype(np.float64)
    gen_mean, src_mean = gen.mean(axis=0), src.mean(axis=0)
    gen_std, src_std = gen.std(axis=0), src.std(axis=0)
    # A flat channel (a black frame) has no spread to match: shift it only.
    scale = np.where(gen_std > 1e-3, src_std / np.maximum(gen_std, 1e-3), 1.0)
    scale = np.clip(scale, 0.5, 2.0)
    out = (frames.astype(np.float32) - gen_mean.astype(np.float32)) * scale.astype(np.float32)
    out += src_mean.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def join(source: np.ndarray, generated: np.ndarray, overlap: int) -> np.ndarray:
    """The source followed by the continuation: `generated`'s first `overlap` frames cover
    the source's last `overlap` frames. Returns len(source) + len(generated) - overlap frames."""
    if not 0 < overlap <= min(len(source), len(generated)):
        raise ValueError(f"the overlap ({overlap}) must be 1 to the shorter clip's length")
    if source.shape[1:] != generated.shape[1:]:
        raise ValueError(f"cannot join frames of {source.shape[1:]} and {generated.shape[1:]}")
    head = source[-overlap:]
    matched = match_colour(generated, generated[:overlap], head)
    # Weight of the continuation over the overlap: from near 0 to 1, never a step.
    weights = (np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1))[:, None, None, None]
    blended = head.astype(np.float32) * (1 - weights) + matched[:overlap] * weights
    bridge = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return np.concatenate([source[:-overlap], bridge, matched[overlap:]])


def frame_steps(frames: np.ndarray) -> np.ndarray:
    """Mean absolute change between each pair of consecutive frames (0..255): a jump at a cut
    shows as one step far above its neighbours."""
    as_float = frames.astype(np.float32)
    return np.abs(np.diff(as_float, axis=0)).mean(axis=(1, 2, 3))
