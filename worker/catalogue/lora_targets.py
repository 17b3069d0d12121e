"""The linear layers of each preset's transformer (what a LoRA may target), by name and shape.

The web tier checks uploaded LoRAs against these without torch, so they are data:
`lora_targets.json`, written by `python -m worker.catalogue.lora_targets` from the catalogue's
builders at full size on PyTorch's meta device (no weights are made). A test rebuilds the
table of every preset and compares, so a new preset or a changed builder cannot drift from it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .base import Scale

TABLE = Path(__file__).with_name("lora_targets.json")

# What people call each base model: a LoRA made for one is named by this in messages.
BASE_LABELS: dict[str, str] = {
    "tiny": "the tiny test model",
    "wan2.1-t2v-1.3b": "Wan 2.1 1.3B",
    "wan2.1-t2v-14b": "Wan 2.1 14B",
    "wan2.1-i2v-14b-480p": "Wan 2.1 image-to-video 14B",
    "wan2.1-i2v-14b-720p": "Wan 2.1 image-to-video 14B",
    "wan2.1-flf2v-14b-720p": "Wan 2.1 first-last-frame 14B",
    "wan2.1-vace-1.3b": "Wan 2.1 VACE 1.3B",
    "wan2.1-vace-14b": "Wan 2.1 VACE 14B",
    "wan2.2-ti2v-5b": "Wan 2.2 5B",
    "wan2.2-t2v-a14b": "Wan 2.2 A14B",
    "wan2.2-i2v-a14b": "Wan 2.2 image-to-video A14B",
    "ltx-video": "LTX-Video 2B",
    "hunyuanvideo-framepack": "HunyuanVideo FramePack",
    "cogvideox-5b": "CogVideoX 5B",
    "kandinsky5-lite-t2v": "Kandinsky 5 Lite",
}

Shapes = dict[str, tuple[int, int]]


@cache
def _tables() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TABLE.read_text())
    return loaded


def linear_layers(preset_id: str) -> Shapes:
    """The preset's transformer's linear layers: dotted name → (out_features, in_features)."""
    entry = _tables()["presets"][preset_id]
    modules: dict[str, list[int]] = _tables()["architectures"][entry]
    return {name: (shape[0], shape[1]) for name, shape in modules.items()}


def lora_presets() -> list[str]:
    """Presets whose transformer the table describes, in catalogue order."""
    return list(_tables()["presets"])


def build_table(preset_id: str) -> Shapes:
    """The linear layers of the preset's transformer, from its builder on the meta device."""
    import torch
    from accelerate import init_empty_weights

    from . import family_of, get_preset

    preset = get_preset(preset_id)
    scale: Scale = "tiny" if preset.builtin else "full"
    # Parameters on the meta device; the rest of a build (schedulers, tokenizers) as usual.
    with init_empty_weights(include_buffers=False):
        components = family_of(preset).build(preset.id, scale)
    transformer = components["transformer"]
    return {name: (module.out_features, module.in_features)
            for name, module in transformer.named_modules()
            if isinstance(module, torch.nn.Linear)}


def lora_bases() -> list[str]:
    """The presets a user's LoRA may target: every model offered but the demo ones, not the
    step-distilled variants of the Preview speed mode (they run on their base's transformer)."""
    from . import CATALOGUE

    return [preset.id for preset in CATALOGUE.values()
            if preset.preview_of is None and preset.takes_loras]


def write_table() -> None:
    architectures: dict[str, Shapes] = {}
    presets: dict[str, str] = {}
    for preset_id in lora_bases():
        table = build_table(preset_id)
        # Presets of one architecture share one entry, named after the first of them.
        same = next((name for name, other in architectures.items() if other == table), None)
        if same is None:
            architectures[preset_id] = table
            same = preset_id
        presets[preset_id] = same
    TABLE.write_text(json.dumps({"presets": presets, "architectures": architectures},
                                separators=(",", ":")) + "\n")


if __name__ == "__main__":
    write_table()
