"""On a CUDA GPU with fp8: an fp8 Quality job compiles with coordinate-descent tuning as an
option of its own compile (issue 23), so Inductor's process-wide settings stay as they were
and a later bf16 compile in the same worker is not tuned by an fp8 job before it.

Run on a GPU machine: `python -m pytest --noconftest -p no:django -o addopts="" tests/gpu`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.gpu.stores import WAN, offline_store, wan_request
from worker.runtime import speed
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture
def gpu_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_store(tmp_path, monkeypatch, (WAN,), eager=False)


def test_an_fp8_job_tunes_its_own_compile_and_leaves_inductor_settings_alone(gpu_store):
    import torch._inductor.config as inductor

    if (problem := speed.fp8_error(torch.device("cuda"), None)) is not None:
        pytest.skip(problem)
    before = {key: getattr(inductor, key) for key in speed.FP8_INDUCTOR_OPTIONS}
    cache = PipelineCache()
    result = run_generation(wan_request(2, fp8=True), lambda info: None, cache)
    assert result.speed["fp8"] is True and result.speed["compiled"] is True
    assert "coordinate-descent tuning" in result.speed["compile_reason"]
    assert {key: getattr(inductor, key) for key in speed.FP8_INDUCTOR_OPTIONS} == before
    plain = run_generation(wan_request(2), lambda info: None, cache)
    assert "tuning" not in plain.speed["compile_reason"]
    cache.clear()
