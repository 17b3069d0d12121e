"""One rank of a process group run outside Celery: rank 0 runs a tiny job through
`parallel.run` (cancelling at a step when asked) and saves its frames; the others follow.
On the CPU (gloo) unless HARNESS_DEVICE=cuda. Django-free: tests/gpu use it too.

    RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=... python -m tests.group.harness OUT
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

from worker.catalogue import GenerationRequest, JobCancelled, StepInfo
from worker.runtime import parallel

REQUEST = GenerationRequest(preset_id="tiny", prompt="a lighthouse at dusk", negative_prompt="",
                            width=128, height=128, num_frames=9, steps=4, guidance=5.0, seed=7)


def main(out: Path) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format=f"rank{os.environ.get('RANK')} %(message)s")
    if os.environ.get("HARNESS_DEVICE", "cpu") == "cpu":
        os.environ["FRAMECRAFT_DEVICE"] = "cpu"  # else each rank takes its local GPU
    group = parallel.start_from_env()
    if not group.leader:
        parallel.follow()
        parallel.stop()
        return 0
    cancel_at = int(os.environ.get("CANCEL_AT", "0"))
    steps: list[int] = []

    def on_step(info: StepInfo) -> None:
        steps.append(info.step)
        if info.step == cancel_at:
            raise JobCancelled()

    try:
        result = parallel.run(REQUEST, on_step)
        np.save(out / "frames.npy", result.frames)
        outcome = "done"
    except JobCancelled:
        outcome = "cancelled"
    (out / "leader.json").write_text(json.dumps({"steps": steps, "outcome": outcome,
                                                 "memory": group.memory}))
    parallel.quit_followers()
    parallel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
