"""bench/lora_switch.py runs (on the CPU, with the tiny model and the eager backend): its
switches are hot swaps that compile nothing new, and it says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_lora_switch_benchmark_runs_and_reports():
    result = subprocess.run([sys.executable, "bench/lora_switch.py", "--smoke", "--switches",
                             "2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    figures = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert figures["recompiles_on_switch"] == 0
    # 2 switches, a strength change, and the first LoRA back after a job without LoRAs.
    assert figures["hot_swaps"] == 4 and figures["slot_builds"] == 3  # every slot, once
    assert figures["output_change_between_loras"] > 0
    assert figures["swap_back_max_diff"] == 0.0 and figures["adapters_off_equals_base"]
    assert "recompiles on switch: 0; OK" in result.stdout
