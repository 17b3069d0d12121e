"""GPU benchmark: whole jobs on 1, 2 and 4 GPUs of one host, through the worker's own runner.

Each group size starts a real process group (one process per GPU, env:// rendezvous, NCCL), as
`python -m worker.group` does, and every job goes through `worker.runtime.parallel.run`
(rank 0 leading, context parallelism over the group, rank 0 decoding). Weights are random at
full size (the catalogue's builders, bf16, the VAE in fp32), the same on every rank.

    python bench/multi_gpu.py                    # Wan 14B 720p + 480p, 1.3B 480p on 1, 2, 4
    python bench/multi_gpu.py --steps 3 --gpus 1,2 --cases 14b-480p,1.3b-480p
    python bench/multi_gpu.py --gpus 1,2 --out /tmp/mg    # then, to the same table:
    python bench/multi_gpu.py --gpus 4 --out /tmp/mg

Per job it prints the wall time, seconds per denoising step (the last step: the first carries
warm-up), the speed-up over one GPU, peak memory per GPU and how far the frames are from the
one-GPU job's. A 50-step job is extrapolated from the per-step figure (encode + 50 steps +
decode), since 50 real steps of 14B at 720p take 20 minutes on one GPU. "load" is the group's
first load: until the slowest rank has built and placed its model (random weights are built on
the GPU, so this is placement cost, not disk reads). Prints as it goes; ~8 minutes on 4 H100s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    "14b-720p": ("wan2.1-t2v-14b", 1280, 720),
    "14b-480p": ("wan2.1-t2v-14b", 832, 480),
    "1.3b-480p": ("wan2.1-t2v-1.3b", 832, 480),
}
FRAMES = 81
PROMPT = "a red fox running through fresh snow at dawn, cinematic"
EXTRAPOLATE_STEPS = 50


def _say(text: str) -> None:
    print(text, flush=True)


# --- One rank --------------------------------------------------------------------------------

def _rank(out: Path, cases: list[str], steps: int, dry_run: bool) -> int:
    import numpy as np
    import torch
    import torch.distributed as dist

    from worker.catalogue import GenerationRequest, StepInfo, build_pipeline, get_preset
    from worker.runtime import parallel
    from worker.runtime.cache import LoadedPipeline, PipelineCache

    group = parallel.start_from_env()
    on_gpu = group.device.type == "cuda"

    def sync() -> None:
        if on_gpu:
            torch.cuda.synchronize()

    def build(preset_id: str) -> LoadedPipeline:
        started = time.perf_counter()
        pipeline = build_pipeline(preset_id, "tiny" if dry_run else "full", seed=0,
                                  device=group.device, dtype=torch.bfloat16 if on_gpu else None)
        parallel.parallelize(pipeline, get_preset(preset_id))
        sync()
        return LoadedPipeline(pipeline, str(group.device), "gpu",
                              load_s=time.perf_counter() - started)

    cache = PipelineCache(loader=build, max_entries=1)
    presets = list(dict.fromkeys(CASES[case][0] for case in cases))
    for preset_id in presets:
        started = time.perf_counter()
        cache.get_loaded(preset_id)
        dist.barrier(group=group.control)  # the group is ready when its slowest rank is
        load_s = time.perf_counter() - started
        if not group.leader:
            parallel.follow(cache)  # until rank 0 is done with this model
            continue
        _say(f"[{group.size} GPU] {preset_id}: group loaded in {load_s:.1f} s")
        for case in cases:
            preset_id_of_case, width, height = CASES[case]
            if preset_id_of_case != preset_id:
                continue
            frames = FRAMES
            if dry_run:
                frames = 5
            request = GenerationRequest(
                preset_id=preset_id, prompt=PROMPT, negative_prompt="blurry, low quality",
                width=width, height=height, num_frames=frames, steps=steps, guidance=5.0,
                seed=1)
            stamps: list[float] = []

            def on_step(info: StepInfo, stamps: list[float] = stamps) -> None:
                stamps.append(info.elapsed_s)

            sync()
            if on_gpu:
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            result = parallel.run(request, on_step, cache)
            sync()
            wall = time.perf_counter() - started
            step_s = stamps[-1] - stamps[-2] if len(stamps) > 1 else stamps[-1]
            memory = group.memory or parallel.memory_report()
            frames_path = out / f"{case}.npy"
            row: dict[str, Any] = {
                "case": case, "gpus": group.size, "wall_s": wall, "step_s": step_s,
                "load_s": load_s, "timings": result.timings,
                "peak_gb": [gpu["peak_gb"] for gpu in memory],
                "job50_s": (result.timings["encode_s"] + EXTRAPOLATE_STEPS * step_s
                            + result.timings["decode_s"]),
            }
            if group.size == 1:
                np.save(frames_path, result.frames)
            elif frames_path.exists():
                reference = np.load(frames_path).astype(np.int16)
                diff = np.abs(result.frames.astype(np.int16) - reference)
                row["frames_max_diff"] = int(diff.max())
                row["frames_mean_diff"] = float(diff.mean())
            del result
            (out / f"{case}-{group.size}.json").write_text(json.dumps(row))
            _say(f"[{group.size} GPU] {case}: {wall:.1f} s, {step_s:.2f} s/step, peak "
                 + " / ".join(f"{gb:.1f}" for gb in row["peak_gb"]) + " GB"
                 + (f", frames vs 1 GPU: max {row['frames_max_diff']}, mean "
                    f"{row['frames_mean_diff']:.3f}" if "frames_max_diff" in row else ""))
        parallel.quit_followers()
    parallel.stop()
    return 0


# --- The driver --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_group(gpus: int, out: Path, cases: list[str], steps: int, timeout: float,
               dry_run: bool) -> bool:
    port = str(_free_port())
    ranks = []
    for rank in range(gpus):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(gpus),
                   LOCAL_WORLD_SIZE=str(gpus), MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                   PYTHONUNBUFFERED="1",
                   FRAMECRAFT_DEVICE="cpu" if dry_run else f"cuda:{rank}")
        env.pop("FRAMECRAFT_MEMORY_PROFILE", None)
        ranks.append(subprocess.Popen(
            [sys.executable, __file__, "--rank-process", "--out", str(out),
             "--cases", ",".join(cases), "--steps", str(steps)]
            + (["--dry-run"] if dry_run else []), env=env))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [rank.poll() for rank in ranks]
        if all(code is not None for code in codes):
            return all(code == 0 for code in codes)
        if any(code not in (None, 0) for code in codes):
            break
        time.sleep(0.5)
    for rank in ranks:
        if rank.poll() is None:
            rank.kill()
    _say(f"[{gpus} GPU] group failed or ran out of time; its rows are missing")
    return False


def _table(out: Path, cases: list[str], counts: list[int]) -> None:
    _say(f"\n| job | GPUs | wall s | s/step | speed-up (step) | {EXTRAPOLATE_STEPS}-step job s "
         "(speed-up) | load s | peak GB per GPU | frames vs 1 GPU (max / mean) |")
    _say("|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        base = None
        for gpus in counts:
            path = out / f"{case}-{gpus}.json"
            if not path.exists():
                continue
            row = json.loads(path.read_text())
            base = base or row
            speed = base["step_s"] / row["step_s"]
            job_speed = base["job50_s"] / row["job50_s"]
            frames = (f"{row['frames_max_diff']} / {row['frames_mean_diff']:.3f}"
                      if "frames_max_diff" in row else "reference")
            _say(f"| {case} | {gpus} | {row['wall_s']:.1f} | {row['step_s']:.2f} | "
                 f"{speed:.2f}x | {row['job50_s']:.0f} ({job_speed:.2f}x) | "
                 f"{row['load_s']:.1f} | {' / '.join(f'{gb:.1f}' for gb in row['peak_gb'])} | "
                 f"{frames} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", default="1,2,4", help="group sizes, comma-separated")
    parser.add_argument("--cases", default=",".join(CASES), help=", ".join(CASES))
    parser.add_argument("--steps", type=int, default=2,
                        help="denoising steps per job (the last one is timed)")
    parser.add_argument("--group-timeout", type=float, default=240.0,
                        help="seconds one group size may take")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny random models, 5 frames, on the CPU (gloo): checks the "
                             "script, measures nothing")
    parser.add_argument("--rank-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [case for case in args.cases.split(",") if case]
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    if args.rank_process:
        return _rank(args.out, cases, args.steps, args.dry_run)
    import torch

    available = 2 if args.dry_run else torch.cuda.device_count()
    counts = [int(count) for count in args.gpus.split(",") if int(count) <= available]
    if not counts:
        _say(f"needs CUDA GPUs; this machine has {available}")
        return 1
    out = args.out or Path(tempfile.mkdtemp(prefix="multi-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    device = "CPU (dry run)" if args.dry_run else torch.cuda.get_device_name(0)
    _say(f"{available} x {device}; group sizes {counts}; "
         f"{args.steps} steps per job; results in {out}")
    for gpus in counts:
        _run_group(gpus, out, cases, args.steps, args.group_timeout, args.dry_run)
        # Rows of earlier calls with the same --out count too (e.g. --gpus 1,2 then --gpus 4).
        _table(out, cases, sorted({1, 2, 4, 8, *counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
