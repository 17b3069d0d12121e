"""Memory figures that several families share: encoder weights and VAE decode working memory.

See `MemoryNeeds` for how they were measured.
"""

from __future__ import annotations

import math


def gib(value: float) -> float:
    """A figure in GiB rounded up to 0.1, so that rounding never lowers a prediction."""
    return math.ceil(round(value * 10, 6)) / 10


def decode_gb(
    width: int, height: int, frames: int, *, chunk_gb_per_mp: float, voxel_bytes: float
) -> float:
    """An untiled VAE decode's working memory, weights excluded.

    Every VAE here but LTX's decodes a few frames at a time: their feature maps grow with the
    frame area only (`chunk_gb_per_mp`, GiB per million pixels of one frame), and what grows
    with the frame count is the decoded video gathered as it goes (`voxel_bytes` per pixel of
    every frame). LTX's VAE decodes the whole clip at once, so all of it is per voxel.
    """
    pixels = width * height
    return gib(chunk_gb_per_mp * pixels / 1e6 + voxel_bytes * pixels * frames / 2**30)


# Encoder weights, bf16: UMT5-XXL (Wan, 5.68 B parameters) and T5 v1.1 XXL (LTX, CogVideoX,
# 4.76 B). Their largest layer is the token embedding: 256,384 × 4,096 (1.96 GiB) and
# 32,128 × 4,096 (0.25 GiB), plus 0.1 GiB of encoding working memory.
UMT5_XXL_GB = 10.6
UMT5_LEAF_GB = 2.1
T5_XXL_GB = 8.9
T5_LEAF_GB = 0.4
WAN_VAE_FP32_GB = 0.5  # 0.47 GiB: 127 M parameters in fp32
# The Wan 2.1 VAE (fp32): the 81-frame decode peaks at 22.2–22.5 GiB per megapixel of frame
# area (measured at 832×480 and 1280×720, t2v and i2v), of which the decoded video and its
# copy while frames are appended are 2 × 12 bytes a voxel.
WAN21_DECODE = {"chunk_gb_per_mp": 20.8, "voxel_bytes": 24}
# VACE holds its conditioning video (fp32 RGB, 12 bytes a voxel) through the decode: measured
# 0.38 GiB more than Wan 2.1 T2V at 832×480×81, 0.84 GiB more at 1280×720×81.
VACE_DECODE = {"chunk_gb_per_mp": 20.8, "voxel_bytes": 24 + 12}
# The HunyuanVideo VAE (bf16; Kandinsky 5, FramePack) decodes 16 frames at a time, and its
# mid-block attends over all of them under a causal mask it builds in full: measured 55.1 GiB
# per megapixel of frame area at 121 frames (Kandinsky), of which the decoded video and its
# copy are 2 × 6 bytes a voxel.
HUNYUAN_VAE_CHUNK_GB_PER_MP = 54.0
