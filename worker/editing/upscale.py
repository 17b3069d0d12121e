"""Upscaling a video frame by frame with an image super-resolution helper model (Swin2SR
through transformers), in tiles so that a small GPU holds frames of any size.

Django-free: the job's spec (generation.specs.UpscaleVideo) hands over the decoded frames and
gets a `GenerationResult` back; the sound is the spec's business (`soundtrack`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from worker.catalogue import (
    HELPERS,
    ErrorCode,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    StepInfo,
)

# Input pixels per tile side, and the margin each tile sees beyond the part it keeps: the
# model's windows near a tile's edge lack context, so only the tile's middle is kept and
# seams do not show. 256 px keeps Swin2SR's working memory near 1 GiB at ×4 in half precision.
TILE = 256
OVERLAP = 16
# Tiles per forward: one tile leaves a big GPU waiting on the model's many small kernels.
TILE_BATCH = 4


def model_factor(model: Any) -> int:
    """The model's own magnification (its config's `upscale`)."""
    return int(model.config.upscale)


def passes_for(model_scale: int, factor: int) -> int:
    """How many runs of a `model_scale`x model reach at least `factor`x (then scaled down)."""
    if model_scale < 2:
        raise ValueError("an upscaler magnifies at least 2×")
    return max(1, math.ceil(round(math.log(factor, model_scale), 6)))


def upscale_image(model: Any, image: np.ndarray, *, tile: int = TILE,
                  overlap: int = OVERLAP, batch: int = TILE_BATCH) -> np.ndarray:
    """One uint8 (H, W, 3) image at the model's magnification, tile by tile: each tile with
    its margin (the image's edge repeated beyond it), of one size so that `batch` of them go
    through the model at once, their middles laid side by side."""
    import torch

    scale, window = model_factor(model), int(model.config.window_size)
    parameter = next(model.parameters())
    height, width = image.shape[:2]
    tile_h, tile_w = min(tile, height), min(tile, width)
    rows, cols = -(-height // tile_h), -(-width // tile_w)
    # Every piece: a tile and its margin, a whole number of the model's attention windows.
    piece_h = -(-(tile_h + 2 * overlap) // window) * window
    piece_w = -(-(tile_w + 2 * overlap) // window) * window
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to(parameter.device)
    pixels = pixels.permute(2, 0, 1).unsqueeze(0).to(parameter.dtype) / 255.0
    pixels = torch.nn.functional.pad(pixels, (
        overlap, (cols - 1) * tile_w + piece_w - overlap - width,
        overlap, (rows - 1) * tile_h + piece_h - overlap - height), mode="replicate")
    out = torch.empty((3, rows * tile_h * scale, cols * tile_w * scale), dtype=torch.uint8,
                      device=parameter.device)
    places = [(row, col) for row in range(rows) for col in range(cols)]
    for first in range(0, len(places), batch):
        chunk = places[first:first + batch]
        pieces = torch.cat([pixels[:, :, row * tile_h:row * tile_h + piece_h,
                                   col * tile_w:col * tile_w + piece_w] for row, col in chunk])
        with torch.inference_mode():
            made = model(pixel_values=pieces).reconstruction
        kept = made[:, :, overlap * scale:(overlap + tile_h) * scale,
                    overlap * scale:(overlap + tile_w) * scale]
        kept = kept.float().clamp(0, 1).mul(255).round().to(torch.uint8)
        for (row, col), one in zip(chunk, kept, strict=True):
            out[:, row * tile_h * scale:(row + 1) * tile_h * scale,
                col * tile_w * scale:(col + 1) * tile_w * scale] = one
    return out[:, :height * scale, :width * scale].permute(1, 2, 0).cpu().numpy()


def upscale_frames(model: Any, frames: np.ndarray, factor: int,
                   on_frame: Callable[[int, int], None] | None = None, *,
                   tile: int = TILE) -> np.ndarray:
    """Every frame (uint8, (F, H, W, 3)) at exactly `factor` times its size: the model run as
    often as it takes, its result scaled down (Lanczos) where it overshoots. `on_frame(done,
    total)` runs after each frame of each pass and may raise to stop."""
    from PIL import Image

    frames = np.asarray(frames)
    count, height, width = frames.shape[:3]
    passes = passes_for(model_factor(model), factor)
    total, done = count * passes, 0
    result = []
    for frame in frames:
        made = frame
        for _ in range(passes):
            made = upscale_image(model, made, tile=tile)
            done += 1
            if on_frame is not None:
                on_frame(done, total)
        if made.shape[:2] != (height * factor, width * factor):
            made = np.asarray(Image.fromarray(made).resize((width * factor, height * factor),
                                                           Image.Resampling.LANCZOS))
        result.append(made)
    return np.stack(result)


def run_upscale(request: GenerationRequest, on_step: Callable[[StepInfo], None], fps: int
                ) -> GenerationResult:
    """An upscaling job: the helper model `request.preset_id` on every frame of
    `request.video`, to `request.width` x `request.height`; `on_step` after each frame (it
    may raise JobCancelled, which propagates unchanged)."""
    import torch

    from worker.editing.helpers import default_device, load_helper

    helper = HELPERS.get(request.preset_id)
    if helper is None or helper.purpose != "upscale":
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"There is no upscaler called {request.preset_id!r}.")
    frames = np.asarray(request.video)
    if frames.ndim != 4 or not len(frames):
        raise GenerationError(ErrorCode.BAD_PARAMETERS, "The video to upscale has no frames.")
    factor = request.width // frames.shape[2]
    if (frames.shape[2] * factor, frames.shape[1] * factor) != (request.width, request.height):
        raise GenerationError(ErrorCode.BAD_PARAMETERS, (
            f"A {frames.shape[2]} × {frames.shape[1]} video cannot become "
            f"{request.width} × {request.height} by upscaling."))
    started = time.perf_counter()
    device = default_device()
    model, _ = load_helper(helper, device)
    if device.type == "cuda":
        # Half precision halves the tiles' memory (converted once, in place: the warm copy
        # stays so; only upscaling uses it).
        model = model.half()
    loaded = time.perf_counter()

    def on_frame(done: int, total: int) -> None:
        on_step(StepInfo(step=done, total=total, elapsed_s=time.perf_counter() - loaded))

    try:
        made = upscale_frames(model, frames, factor, on_frame)
    except torch.OutOfMemoryError:
        raise GenerationError(ErrorCode.OUT_OF_MEMORY, (
            f"{helper.label} ran out of GPU memory on {TILE} px tiles.")) from None
    return GenerationResult(
        frames=made, fps=fps, device=str(device),
        memory_profile=f"tiles of {TILE} px",
        timings={"load_s": loaded - started, "upscale_s": time.perf_counter() - loaded})
