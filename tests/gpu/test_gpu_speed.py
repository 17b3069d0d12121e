"""On a CUDA GPU: each speed mode runs a tiny-architecture job through the real runner and
the production loader. Quality compiles the repeated blocks (its output matches plain within
bf16 kernel noise, and a second job of the same size compiles nothing new), Balanced skips
steps, Preview runs its variant, fp8 runs where the GPU has it, Quality works under group
offload.

Run on a GPU machine: `python -m pytest --noconftest -p no:django -o addopts="" tests/gpu`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.gpu.stores import WAN, offline_store, wan_request
from worker.catalogue import CATALOGUE, GenerationRequest
from worker.runtime import speed
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _request(**overrides: object) -> GenerationRequest:
    return wan_request(6, **overrides)


@pytest.fixture
def gpu_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_store(tmp_path, monkeypatch, (WAN,), eager=False)


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _job(request: GenerationRequest, cache: PipelineCache) -> tuple[Any, torch.Tensor]:
    """A job through the runner, and its latents after the first step."""
    latents: list[torch.Tensor] = []

    def on_step(info: Any) -> None:
        if info.step == 1 and info.latents is not None:
            latents.append(info.latents.float().cpu())

    return run_generation(request, on_step, cache), latents[0]


def _close_to_eager(compiled: torch.Tensor, eager: torch.Tensor) -> None:
    """After one step the latents differ only by one forward's bf16 kernel order (over a whole
    job a random tiny model amplifies that: measured on an H200, frames up to 255 apart)."""
    diff = (compiled - eager).abs()
    stats = f"max {diff.max():.4f}, mean {diff.mean():.5f}, |eager| {eager.abs().mean():.3f}"
    assert diff.max() <= 0.05 and diff.mean() <= 0.005, stats


def _stats() -> str:
    from torch._dynamo.utils import counters

    return str({key: dict(value) for key, value in counters.items() if value})


def test_quality_compiles_once_per_size_and_matches_plain(gpu_store, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "0")
    plain_cache = PipelineCache()
    _, plain = _job(_request(), plain_cache)
    plain_cache.clear()
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "auto")
    cache = PipelineCache()
    before = _graphs()
    first, compiled = _job(_request(), cache)
    assert first.speed["compiled"] is True and first.speed["new_shape"] is True
    assert _graphs() > before, _stats()
    before = _graphs()
    second = run_generation(_request(seed=4), lambda info: None, cache)
    assert second.speed["new_shape"] is False
    assert _graphs() == before, _stats()  # the same size compiles nothing new
    _close_to_eager(compiled, plain)
    assert first.speed["attention"] in speed.EXACT_BACKENDS
    cache.clear()


def test_quality_compiles_beneath_block_offload_once_and_matches_eager(gpu_store, monkeypatch):
    from worker.runtime.offload_compile import switches

    monkeypatch.setenv("FRAMECRAFT_MEMORY_PROFILE", "group_offload_block")
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "0")
    eager_cache = PipelineCache()
    _, eager = _job(_request(), eager_cache)
    eager_cache.clear()
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "auto")
    # Dynamo keeps a graph on the block's forward: one compiled by an earlier test would be
    # reused here, as it is by a worker (the GPU plan's and this one's are the same graph).
    torch._dynamo.reset()
    cache = PipelineCache()
    before = _graphs()
    first, compiled = _job(_request(), cache)
    assert first.memory_profile == "group_offload_block" and first.speed["compiled"] is True
    found = switches(cache.get(WAN).transformer)
    assert found and all(switch.compiled_calls > 0 for switch in found)
    # Every block shares one graph (a recompile per block's hook would add one each).
    assert _graphs() - before == 1, _stats()
    before = _graphs()
    run_generation(_request(seed=4), lambda info: None, cache)
    assert _graphs() == before, _stats()
    _close_to_eager(compiled, eager)
    cache.clear()


def test_balanced_skips_steps_on_the_gpu(gpu_store):
    cache = PipelineCache()
    result = run_generation(_request(steps=12, speed="balanced"), lambda info: None, cache)
    assert result.speed["step_cache"] == "magcache"
    assert 0 < result.speed["skipped_steps"] < 12
    cache.clear()


def test_preview_runs_its_variant_on_the_gpu(gpu_store, monkeypatch):
    variant = CATALOGUE[f"{WAN}-preview"]
    # The tiny checkpoint has no LoRA file: run the variant's steps, scheduler and guidance.
    monkeypatch.setitem(CATALOGUE, variant.id, dataclasses.replace(
        variant, loras=(), source=None, builtin=True))
    cache = PipelineCache()
    steps: list[int] = []
    result = run_generation(_request(speed="preview"), lambda info: steps.append(info.step),
                            cache)
    assert result.speed["preset"] == variant.id and steps == [1, 2, 3, 4]
    cache.clear()


def test_fp8_runs_where_the_gpu_has_it_and_is_refused_elsewhere(gpu_store):
    cache = PipelineCache()
    problem = speed.fp8_error(torch.device("cuda"), None)
    if problem is not None:
        with pytest.raises(Exception, match="fp8"):
            run_generation(_request(fp8=True), lambda info: None, cache)
        return
    result = run_generation(_request(fp8=True), lambda info: None, cache)
    assert result.speed["fp8"] is True
    cache.clear()


def test_quality_runs_under_group_offload(gpu_store, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_MEMORY_PROFILE", "group_offload_leaf")
    cache = PipelineCache()
    result = run_generation(_request(), lambda info: None, cache)
    assert result.memory_profile == "group_offload_leaf"
    assert result.frames.shape == (9, 480, 832, 3)
    cache.clear()
