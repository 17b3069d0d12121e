"""The process group on the CPU (gloo): two real processes, met through env:// as torchrun
would start them, run one tiny job together."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.group.harness import REQUEST
from tests.processes import ROOT, free_port
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation

pytestmark = pytest.mark.worker


def _run_group(out, **env):
    port = str(free_port())
    ranks = []
    for rank in range(2):
        log = (out / f"rank{rank}.log").open("wb")
        ranks.append(subprocess.Popen(
            [sys.executable, "-m", "tests.group.harness", str(out)], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                 "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1",
                 **env}))
    codes = [rank.wait(timeout=240) for rank in ranks]
    logs = [(out / f"rank{rank}.log").read_text() for rank in range(2)]
    assert codes == [0, 0], logs
    return json.loads((out / "leader.json").read_text()), logs


def test_a_two_process_job_makes_the_frames_of_the_one_process_job(tmp_path):
    leader, logs = _run_group(tmp_path)
    assert leader["outcome"] == "done"
    assert leader["steps"] == [1, 2, 3, 4]
    together = np.load(tmp_path / "frames.npy")
    alone = run_generation(REQUEST, lambda info: None, PipelineCache()).frames
    assert together.shape == alone.shape == (9, 128, 128, 3)
    assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1
    # The denoiser really was split: each rank loaded it and ran its half.
    assert all("loaded preset tiny" in log for log in logs)


def test_a_cancel_read_on_rank_0_stops_both_ranks_at_the_same_step(tmp_path):
    leader, logs = _run_group(tmp_path, CANCEL_AT="2")
    assert leader == {"steps": [1, 2], "outcome": "cancelled", "memory": []}
    assert "rank 1 stopped at step 2 with the leader" in logs[1]
