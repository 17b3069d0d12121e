"""bench/control.py runs end to end at a tiny size on the CPU (the lead runs it full size on a
GPU): every kind reports a time, and the JSON summary is written."""

import json
import subprocess
import sys

from tests.processes import ROOT


def test_the_control_benchmark_runs_small(tmp_path):
    out = tmp_path / "control.json"
    result = subprocess.run(
        [sys.executable, "bench/control.py", "--scale", "tiny", "--device", "cpu", "--frames",
         "5", "--width", "64", "--height", "48", "--repeat", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert set(summary["results"]) == {"depth", "pose", "canny", "grey", "flow", "tracking"}
    assert all(row["seconds"] > 0 for row in summary["results"].values())
