"""LoRA files the tests make: random matrices for the layers of a preset's transformer, in any
of the namings Framecraft reads, written with safetensors."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save, save_file

from worker.catalogue.lora_targets import linear_layers

Choose = Callable[[str], bool]


def in_blocks(name: str) -> bool:
    return name.startswith("blocks.")


def lora_tensors(preset_id: str, *, rank: int = 4, seed: int = 0, choose: Choose = in_blocks,
                 fmt: str = "diffusers", limit: int | None = None,
                 scale: float = 0.5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    chosen = [(n, s) for n, s in linear_layers(preset_id).items() if choose(n)][:limit]
    tensors = {}
    for name, (out_features, in_features) in chosen:
        down = torch.randn(rank, in_features, generator=generator)
        up = torch.randn(out_features, rank, generator=generator) * scale
        if fmt == "diffusers":
            tensors[f"transformer.{name}.lora_A.weight"] = down
            tensors[f"transformer.{name}.lora_B.weight"] = up
        elif fmt == "peft":
            tensors[f"base_model.model.{name}.lora_A.weight"] = down
            tensors[f"base_model.model.{name}.lora_B.weight"] = up
        else:  # original Wan ("wan") or kohya/musubi ("kohya"), with alphas
            original = wan_original_name(name)
            key = ("diffusion_model." + original if fmt == "wan"
                   else "lora_unet_" + original.replace(".", "_"))
            tensors[f"{key}.lora_down.weight"] = down
            tensors[f"{key}.lora_up.weight"] = up
            tensors[f"{key}.alpha"] = torch.tensor(float(rank))
    return tensors


def wan_original_name(name: str) -> str:
    """The Wan repository's name of a diffusers Wan layer (blocks only)."""
    parts = name.split(".")
    block = f"blocks.{parts[1]}"
    if parts[2] in ("attn1", "attn2"):
        attention = "self_attn" if parts[2] == "attn1" else "cross_attn"
        proj = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out": "o", "add_k_proj": "k_img",
                "add_v_proj": "v_img"}[parts[3]]
        return f"{block}.{attention}.{proj}"
    return f"{block}.ffn.{'0' if parts[4] == '0' else '2'}"


def lora_bytes(preset_id: str, **options: object) -> bytes:
    return save(lora_tensors(preset_id, **options))  # type: ignore[arg-type]


def lora_path(folder: Path, name: str, preset_id: str, **options: object) -> Path:
    path = folder / f"{name}.safetensors"
    save_file(lora_tensors(preset_id, **options), str(path))  # type: ignore[arg-type]
    return path


def with_header_length(data: bytes, length: int) -> bytes:
    """The file with its header length field rewritten."""
    return struct.pack("<Q", length) + data[8:]
