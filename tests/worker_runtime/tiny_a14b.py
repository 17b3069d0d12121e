"""A tiny Wan 2.2 A14B checkpoint in the models folder, for tests that run its two experts on
the CPU: the preset limited to toy sizes, and the LoRA layer table of the tiny build (the
shipped one is the full-size model's, which no tiny LoRA file fits)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from worker.catalogue import CATALOGUE, build_pipeline, get_preset, lora_targets

SIDE = 64


def install_tiny_a14b(preset_id: str, models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Save the tiny build of `preset_id` (an A14B preset) where the worker loads it from."""
    preset = get_preset(preset_id)
    monkeypatch.setitem(CATALOGUE, preset_id, dataclasses.replace(
        preset, sizes=((SIDE, SIDE),), default_width=SIDE, default_height=SIDE,
        default_frames=5))
    folder = models / preset_id
    pipeline = build_pipeline(preset_id, "tiny", seed=0)
    pipeline.save_pretrained(folder)
    shapes = {name: [module.out_features, module.in_features]
              for name, module in pipeline.transformer.named_modules()
              if isinstance(module, torch.nn.Linear)}
    tables = lora_targets._tables()
    patched = {"presets": {**tables["presets"], preset_id: "tiny-a14b"},
               "architectures": {**tables["architectures"], "tiny-a14b": shapes}}
    monkeypatch.setattr(lora_targets, "_tables", lambda: patched)
    return folder
