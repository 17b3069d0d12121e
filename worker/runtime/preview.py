"""Cheap previews of latents while a job denoises, without running the VAE."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import torch
from PIL import Image


@cache
def _projection(channels: int) -> torch.Tensor:
    """A fixed (channels, 3) map from latent channels to RGB, the same in every process."""
    generator = torch.Generator().manual_seed(channels)
    weights = torch.randn(channels, 3, generator=generator)
    return weights / weights.norm(dim=0, keepdim=True)


def latents_to_preview_jpeg(latents: torch.Tensor, max_side: int = 256) -> bytes:
    """A JPEG of the middle latent frame, scaled so its longer side is `max_side`.

    Takes video latents (B, C, F, H, W) or image latents (B, C, H, W); uses the first batch item.
    """
    if latents.ndim == 5:
        frame = latents[0, :, latents.shape[2] // 2]
    elif latents.ndim == 4:
        frame = latents[0]
    else:
        raise ValueError(f"expected latents shaped (B,C,F,H,W) or (B,C,H,W), got {latents.shape}")
    frame = frame.detach().to("cpu", torch.float32)
    channels, height, width = frame.shape
    rgb = torch.einsum("chw,cd->hwd", frame, _projection(channels))
    flat = rgb.reshape(-1, 3)
    # Percentiles rather than min/max so a few outliers do not wash the preview out.
    low = torch.quantile(flat, 0.01, dim=0)
    high = torch.quantile(flat, 0.99, dim=0)
    rgb = ((rgb - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
    pixels = (rgb * 255).round().to(torch.uint8).numpy()

    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def unpacked_latents(pipeline: Any, latents: Any, num_frames: int, height: int, width: int
                     ) -> Any:
    """Video latents (B, C, F, H, W) from the packed (B, tokens, C) ones LTX-Video's pipelines
    hand to the step callback, with the pipeline's own `_unpack_latents`; anything else as it
    is. The condition pipeline puts its conditioning tokens first: the video's are the last.
    None when they cannot be unpacked (no preview, the step still counts).

    The Kandinsky pipelines keep theirs channels last, (B, F, H, W, C), Kandinsky 5's with its
    conditioning channels and mask after the latent ones: those come back channels first."""
    if isinstance(latents, torch.Tensor) and latents.ndim == 5:
        return _channels_first(pipeline, latents)
    if not isinstance(latents, torch.Tensor) or latents.ndim != 3:
        return latents
    try:
        patch, patch_t = (pipeline.transformer_spatial_patch_size,
                          pipeline.transformer_temporal_patch_size)
        frames = (num_frames - 1) // pipeline.vae_temporal_compression_ratio + 1
        rows = height // pipeline.vae_spatial_compression_ratio
        cols = width // pipeline.vae_spatial_compression_ratio
        tokens = frames * rows * cols // (patch_t * patch * patch)
        # The arguments the pipeline itself unpacks its final latents with.
        return pipeline._unpack_latents(latents[:, -tokens:], frames, rows, cols, patch,
                                        patch_t)
    except Exception:
        return None


def _channels_first(pipeline: Any, latents: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) from a Kandinsky transformer's channels-last latents; others as they are."""
    config = getattr(getattr(pipeline, "transformer", None), "config", None)
    channels = getattr(config, "in_visual_dim", None)
    if not isinstance(channels, int) or latents.shape[-1] not in (channels, 2 * channels + 1):
        return latents
    return latents[..., :channels].permute(0, 4, 1, 2, 3)
