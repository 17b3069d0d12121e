"""The offline model folder every GPU test starts from, and the small Wan job most of them run
(tests/gpu runs without a conftest, so the tests import these)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.catalogue import GenerationRequest, build_pipeline

WAN = "wan2.1-t2v-1.3b"


def wan_request(steps: int, **overrides: Any) -> GenerationRequest:
    """A short Wan 2.1 1.3B job at its real 832x480 size."""
    fields: dict[str, Any] = {
        "preset_id": WAN, "prompt": "a red fox in snow", "negative_prompt": "", "width": 832,
        "height": 480, "num_frames": 9, "steps": steps, "guidance": 5.0, "seed": 3}
    return GenerationRequest(**{**fields, **overrides})


def offline_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, presets: tuple[str, ...],
                  *, eager: bool) -> Path:
    """Tiny checkpoints of `presets` in a fresh models folder, the Hub offline, jobs on CUDA.

    `eager`: memory profiles move weights, not arithmetic, so tests comparing them compare
    eager with eager (measured on an H200, compiled blocks against eager ones differ by more
    than kernel-order noise on random weights; compile's own numerics are test_gpu_speed's)."""
    models = tmp_path / "models"
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cuda")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    if eager:
        monkeypatch.setenv("FRAMECRAFT_COMPILE", "0")
    for preset in presets:
        build_pipeline(preset, "tiny", seed=0).save_pretrained(models / preset)
    return models
