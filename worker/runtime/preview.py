"""Cheap previews of latents while a job denoises, without running the VAE."""

from __future__ import annotations

import io
from functools import cache

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
