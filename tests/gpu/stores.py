"""The offline model folder every GPU test starts from (tests/gpu runs without a conftest, so
the fixtures call this)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.catalogue import build_pipeline


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
