"""Upscale on one GPU: a 5 s 480p clip (81 frames of 832x480, as Wan makes them at 16 fps) to
2x (1664x960) by the job's own path (worker.editing.upscale: tiles of TILE px, half
precision), with each Swin2SR upscaler at its real architecture and random weights (the
time and memory do not depend on the weights). Printed beside it, in the same run: Lanczos on
the CPU (what a plain resize costs) and one untiled frame (the peak the tiles save).

    python bench/upscale.py [--frames 81] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

from worker.catalogue.helpers import build_helper
from worker.editing.upscale import TILE, upscale_frames, upscale_image

WIDTH, HEIGHT, FACTOR = 832, 480, 2


def lanczos_s(frames: np.ndarray) -> float:
    started = time.perf_counter()
    for frame in frames:
        Image.fromarray(frame).resize((WIDTH * FACTOR, HEIGHT * FACTOR),
                                      Image.Resampling.LANCZOS)
    return time.perf_counter() - started


def measure(helper_id: str, frames: np.ndarray) -> dict[str, float | str]:
    device = torch.device("cuda")
    model, _ = build_helper(helper_id, "full")
    model = model.to(device).half()
    upscale_image(model, frames[0])  # warm-up: kernels chosen, memory pool grown
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    started = time.perf_counter()
    made = upscale_frames(model, frames, FACTOR)
    torch.cuda.synchronize()
    took = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() - base) / 2**30
    assert made.shape == (len(frames), HEIGHT * FACTOR, WIDTH * FACTOR, 3)
    torch.cuda.reset_peak_memory_stats()
    try:
        upscale_image(model, frames[0], tile=max(WIDTH, HEIGHT))
        untiled = (torch.cuda.max_memory_allocated() - base) / 2**30
    except torch.OutOfMemoryError:
        untiled = float("inf")
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30
    del model
    torch.cuda.empty_cache()
    return {"helper": helper_id, "frames": len(frames), "job_s": round(took, 2),
            "per_frame_s": round(took / len(frames), 3), "peak_gb": round(peak + weights, 2),
            "untiled_frame_peak_gb": round(untiled + weights, 2), "tile_px": TILE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, HEIGHT, WIDTH, 3), dtype=np.uint8)
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    figures = {"lanczos_cpu_s": round(lanczos_s(frames), 2),
               "upscalers": [measure(h, frames) for h in ("swin2sr-classical-x2",
                                                           "swin2sr-classical-x4")]}
    print(f"Lanczos on the CPU, {args.frames} frames: {figures['lanczos_cpu_s']} s")
    for row in figures["upscalers"]:
        print(f"{row['helper']}: {row['job_s']} s ({row['per_frame_s']} s a frame), peak "
              f"{row['peak_gb']} GiB in {row['tile_px']} px tiles; one untiled frame peaks "
              f"at {row['untiled_frame_peak_gb']} GiB")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
