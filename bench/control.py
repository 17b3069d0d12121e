"""GPU benchmark: each control track of motion transfer (and mask tracking) on a full-length
clip, with the helper models at full size and random weights, saved and loaded through the
production loader as a worker loads them.

    python bench/control.py                          # 81 frames at 832x480 on CUDA
    python bench/control.py --scale tiny --device cpu --frames 5 --width 64 --height 48

Prints one line per kind: warm seconds per clip (median of --repeat runs after a warm-up that
loads the model), frames per second, and the GPU's peak memory; `--json` writes them too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from worker.catalogue.helpers import CONTROL_KINDS, HELPERS, save_helper  # noqa: E402
from worker.editing.control import make_control_track  # noqa: E402
from worker.editing.tracking import track_mask  # noqa: E402


def synthetic_clip(frames: int, height: int, width: int) -> np.ndarray:
    """A textured background panning left and a bright figure walking right: edges, depth
    cues and motion everywhere, as a real clip has."""
    ys, xs = np.mgrid[0:height, 0:width]
    clip = np.empty((frames, height, width, 3), np.uint8)
    for index in range(frames):
        shift = xs + 2 * index
        clip[index, ..., 0] = (128 + 100 * np.sin(shift / 17.0)).astype(np.uint8)
        clip[index, ..., 1] = (128 + 100 * np.sin(ys / 23.0 + shift / 31.0)).astype(np.uint8)
        clip[index, ..., 2] = ((shift * 3 + ys) % 256).astype(np.uint8)
        left = (width // 8 + 4 * index) % max(1, width - width // 6)
        clip[index, height // 4: 3 * height // 4, left: left + width // 10] = (240, 220, 200)
    return clip


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(work: Any, device: str, repeat: int) -> dict[str, float]:
    work()  # loads the helper model and warms the kernels
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    runs = []
    for _ in range(repeat):
        _sync(device)
        started = time.perf_counter()
        work()
        _sync(device)
        runs.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    return {"seconds": statistics.median(runs), "peak_gb": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", choices=("tiny", "full"), default="full")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default=",".join([*CONTROL_KINDS, "tracking"]))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    clip = synthetic_clip(args.frames, args.height, args.width)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="framecraft-bench-") as models:
        os.environ["FRAMECRAFT_MODELS_DIR"] = models
        for helper_id in HELPERS:
            save_helper(helper_id, Path(models) / helper_id, scale=args.scale)
        clicks = [(0, args.width * 0.2, args.height * 0.5, True),
                  (args.frames // 2, args.width * 0.9, args.height * 0.1, False)]
        for kind in args.kinds.split(","):
            if kind == "tracking":
                def work() -> Any:
                    return track_mask(clip, clicks, device=args.device)
            else:
                def work(kind: str = kind) -> Any:
                    return make_control_track(kind, clip, device=args.device)
            try:
                results[kind] = timed(work, args.device, args.repeat)
            except Exception as error:  # one kind failing must not hide the others
                print(f"{kind:10} failed: {type(error).__name__}: {error}", flush=True)
                continue
            row = results[kind]
            print(f"{kind:10} {row['seconds']:7.2f} s  {args.frames / row['seconds']:7.1f} "
                  f"frames/s  peak {row['peak_gb']:.2f} GiB", flush=True)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    summary = {"frames": args.frames, "width": args.width, "height": args.height,
               "scale": args.scale, "device": gpu, "results": results}
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if len(results) == len(args.kinds.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
