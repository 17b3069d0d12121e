"""Segmentation models that remove a photo's background: transformers semantic-segmentation
checkpoints whose labels include a background class (everything else is the subject).

Installed like a preset (`fetch_model <id>`, the admin's Models page) into
`$FRAMECRAFT_MODELS_DIR/<id>` or the Hugging Face cache; loaded only by the models worker
(worker/runtime/background.py). Plain data here: no torch at import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Scale
from .install import MODELS_DIR_ENV, hf_cache_dir

# A transformers checkpoint: its config, the image processor's, and the weights.
TRANSFORMERS_PATTERNS = ["config.json", "preprocessor_config.json", "*.safetensors"]


@dataclass(frozen=True, kw_only=True)
class Segmenter:
    """A background-removal model: what `weights.fetch` needs to install it like a preset."""

    id: str
    label: str
    description: str
    source: str
    architecture: str
    builtin: bool = False
    component_sources: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    allow_patterns: tuple[str, ...] = tuple(TRANSFORMERS_PATTERNS)

    def local_dir(self) -> Path | None:
        root = os.environ.get(MODELS_DIR_ENV)
        return Path(root) / self.id if root else None

    def installed_path(self) -> Path | None:
        local = self.local_dir()
        if local is not None and segmenter_complete(local):
            return local
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(self.source, "config.json", cache_dir=hf_cache_dir())
        if isinstance(found, str) and segmenter_complete(Path(found).parent):
            return Path(found).parent
        return None

    def is_installed(self) -> bool:
        return self.installed_path() is not None


def segmenter_complete(folder: Path) -> bool:
    """A transformers checkpoint with its config, processor config and weights."""
    try:
        json.loads((folder / "config.json").read_text())
        json.loads((folder / "preprocessor_config.json").read_text())
    except (OSError, ValueError):
        return False
    return any(folder.glob("*.safetensors"))


SEGMENTERS: dict[str, Segmenter] = {
    segmenter.id: segmenter for segmenter in (
        Segmenter(
            id="segformer-b2-clothes",
            label="SegFormer B2 (people: background removal)",
            description="A SegFormer B2 fine-tuned to parse people (ATR: background, hair, "
                        "face, clothes …); every class but the background is the subject.",
            source="mattmdjaga/segformer_b2_clothes",
            architecture="SegformerForSemanticSegmentation",
        ),
    )
}
BACKGROUND_REMOVAL = "segformer-b2-clothes"


def background_remover() -> Segmenter:
    return SEGMENTERS[BACKGROUND_REMOVAL]


def build_segmenter(scale: Scale = "tiny") -> tuple[Any, Any]:
    """A SegFormer with random weights and its image processor: tiny for tests, or the B2
    checkpoint's architecture (18 ATR classes, background first)."""
    from transformers import (
        SegformerConfig,
        SegformerForSemanticSegmentation,
        SegformerImageProcessorPil,
    )

    labels = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants",
              "Dress", "Belt", "Left-shoe", "Right-shoe", "Face", "Left-leg", "Right-leg",
              "Left-arm", "Right-arm", "Bag", "Scarf"]
    if scale == "tiny":
        dims: dict[str, Any] = {"hidden_sizes": [8, 16, 24, 32], "depths": [1, 1, 1, 1],
                                "num_attention_heads": [1, 1, 1, 1],
                                "decoder_hidden_size": 16}
        size = 64
    else:  # mit-b2
        dims = {"hidden_sizes": [64, 128, 320, 512], "depths": [3, 4, 6, 3],
                "num_attention_heads": [1, 2, 5, 8], "decoder_hidden_size": 768}
        size = 512
    config = SegformerConfig(num_labels=len(labels),
                             id2label=dict(enumerate(labels)),
                             label2id={name: i for i, name in enumerate(labels)}, **dims)
    model = SegformerForSemanticSegmentation(config).eval()
    processor = SegformerImageProcessorPil(size={"height": size, "width": size})
    return model, processor
