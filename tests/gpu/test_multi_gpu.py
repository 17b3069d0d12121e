"""On a host with 2 or more CUDA GPUs: a process group of 2 ranks (NCCL) runs a tiny job through
the real runner with context parallelism and makes the one-GPU job's frames; a cancel read on
rank 0 stops both ranks at the same step.

    python -m pytest --noconftest -p no:django -o addopts="" tests/gpu/test_multi_gpu.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs"),
]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(out: Path, ranks: int, **env: str) -> tuple[dict, list[str]]:
    out.mkdir()
    port = str(_free_port())
    processes = []
    for rank in range(ranks):
        log = (out / f"rank{rank}.log").open("wb")
        child_env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank),
                     "WORLD_SIZE": str(ranks), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                     "HARNESS_DEVICE": "cuda", "PYTHONPATH": str(ROOT), **env}
        child_env.pop("FRAMECRAFT_DEVICE", None)
        processes.append(subprocess.Popen([sys.executable, "-m", "tests.group.harness", str(out)],
                                          cwd=ROOT, env=child_env, stdout=log,
                                          stderr=subprocess.STDOUT))
    codes = [process.wait(timeout=180) for process in processes]
    logs = [(out / f"rank{rank}.log").read_text() for rank in range(ranks)]
    assert codes == [0] * ranks, logs
    return json.loads((out / "leader.json").read_text()), logs


def test_a_two_gpu_job_makes_the_frames_of_the_one_gpu_job(tmp_path):
    started = time.perf_counter()
    alone, _ = _run(tmp_path / "one", 1)
    together, logs = _run(tmp_path / "two", 2)
    print(f"both runs in {time.perf_counter() - started:.0f} s", flush=True)
    assert alone["outcome"] == together["outcome"] == "done"
    one = np.load(tmp_path / "one" / "frames.npy").astype(int)
    two = np.load(tmp_path / "two" / "frames.npy").astype(int)
    assert one.shape == two.shape == (9, 128, 128, 3)
    # fp32 on both; the split attention only reorders sums.
    assert np.abs(one - two).max() <= 2
    assert len(together["memory"]) == 2  # each rank's GPU reported its peak
    assert "joined the group on cuda:1" in logs[1]


def test_a_cancel_on_rank_0_stops_every_rank_at_the_same_step(tmp_path):
    leader, logs = _run(tmp_path / "cancel", 2, CANCEL_AT="2")
    assert (leader["steps"], leader["outcome"]) == ([1, 2], "cancelled")
    assert "rank 1 stopped at step 2 with the leader" in logs[1]
