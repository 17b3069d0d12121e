"""A Preview LoRA installs like any weights (fetch_model <id>), against the fake Hub: only its
one file is fetched, beside nothing else, after its base; the variant then loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from tests.worker_runtime.test_runtime_download import hub, import_time_cache  # noqa: F401
from worker.catalogue import build_pipeline, get_preset, weights
from worker.runtime.cache import load_pipeline

BASE = "wan2.1-t2v-1.3b"
VARIANT = "wan2.1-t2v-1.3b-preview"


def _lora_file() -> bytes:
    generator = torch.Generator().manual_seed(0)
    layer = "transformer.blocks.0.attn1.to_q"
    return save({f"{layer}.lora_A.weight": torch.randn(4, 24, generator=generator),
                 f"{layer}.lora_B.weight": torch.randn(24, 4, generator=generator)})


def test_a_preview_lora_is_fetched_alone_after_its_base(hub, offline_model_store: Path):  # noqa: F811
    variant = get_preset(VARIANT)
    (lora,) = variant.loras
    hub.add_repo(lora.repo, {lora.filename: _lora_file(),
                                     "another_lora.safetensors": _lora_file(),
                                     "README.md": b"# LoRAs\n"})
    with pytest.raises(weights.WeightsError, match=f"install that first \\(fetch_model {BASE}\\)"):
        weights.fetch(variant, say=lambda line: None)
    assert hub.downloaded(lora.repo) == {}

    build_pipeline(BASE, "tiny", seed=0).save_pretrained(offline_model_store / BASE)
    lines: list[str] = []
    path = weights.fetch(variant, say=lines.append)
    assert path == offline_model_store / VARIANT / lora.filename
    assert list(hub.downloaded(lora.repo)) == [lora.filename]
    assert lines[-1] == f"{VARIANT} installed at {path}."
    assert variant.is_installed() and weights.verify(variant) == []
    loaded = load_pipeline(VARIANT)
    assert type(loaded.pipeline.scheduler).__name__ == "UniPCMultistepScheduler"
