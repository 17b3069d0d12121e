"""A restarted worker's first compiled job, cold and with the compile cache a first process
filled: each variant runs in two fresh processes one after the other on one models volume
(a new, empty one per variant), like a worker that starts, works and is restarted.

In each process: build Wan 2.1 T2V 1.3B (random full-size weights) on the GPU, prepare it
through the worker's speed modes (attention, fp8 if asked), then through the worker's runner
a 2-step Quality job (it compiles, or reads the cache), the same job again (compiled), and a
longer one for the per-step time. Compile + warm-up = first job - second job. It prints the
Inductor and AOTAutograd cache counters and Dynamo's compile-time table.

Variants: `quality` (bf16); `fp8` (the worker's fp8 as it is: coordinate-descent tuning as an
option of the fp8 compile alone); `fp8-global` (as before issue 23: torchao's quantize_ set that
tuning process-wide, `recommended_inductor_config_setter`); `fp8-untuned`
(FRAMECRAFT_FP8_TUNING=off); `fp8-mega` (fp8 again in a fresh, empty volume with only the
mega-cache artefacts the `fp8` variant's cold process saved: torch.compiler.load_cache_artifacts).

    python bench/compile_restart.py --variants fp8-global,fp8,fp8-untuned,fp8-mega --deadline 560
    python bench/compile_restart.py --variants quality --scale tiny --device cpu   # dry run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("quality", "fp8", "fp8-global", "fp8-untuned", "fp8-mega")
# Seconds a process is expected to take, for the deadline (estimates: fp8's tuned compile took
# 135-185 s on an H100 and an H200 before).
EXPECTED = {"cold-fp8-global": 240.0, "cold-fp8": 240.0}
EXPECTED_DEFAULT = 90.0
MEGA_FILE = "mega-cache.bin"
TUNING_KEYS = ("coordinate_descent_tuning", "coordinate_descent_check_all_directions")


def say(**fields: Any) -> None:
    fields["t"] = round(time.perf_counter() - STARTED, 1)
    print(json.dumps(fields), flush=True)


def child(args: argparse.Namespace) -> None:
    import torch
    import torch._inductor.config as inductor
    from torch._dynamo.utils import compile_times, counters

    from bench.speed import SMALL, Bench, _shrink_catalogue

    imported = time.perf_counter() - STARTED
    volume = Path(os.environ["FRAMECRAFT_MODELS_DIR"])
    if args.scale == "tiny":
        _shrink_catalogue()
    if args.mega_load:
        # Where the worker's compile cache is, as ensure_compiled would point it, first: the
        # artefacts are written into the caches' folders.
        from worker.runtime import speed

        name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        speed.use_compile_cache(speed.compile_cache_dir(name, torch.__version__))
        blob = Path(args.mega_load).read_bytes()
        info = torch.compiler.load_cache_artifacts(blob)
        say(mega_loaded_bytes=len(blob), info=str(info)[:300])
    bench = Bench(argparse.Namespace(scale=args.scale, device=args.device))
    started = time.perf_counter()
    pipeline = bench.build(SMALL)
    built = time.perf_counter() - started
    fp8 = args.variant.startswith("fp8")
    loaded = bench.loaded(pipeline, SMALL, fp8=fp8)
    if args.variant == "fp8-global":
        from torchao.quantization.utils import recommended_inductor_config_setter

        recommended_inductor_config_setter()  # what quantize_ did before issue 23
    tuning = {f"global {key}": getattr(inductor, key) for key in TUNING_KEYS}
    first = bench.runner(loaded, bench.request(SMALL, 2, fp8=fp8))
    second = bench.runner(loaded, bench.request(SMALL, 2, fp8=fp8))
    longer = bench.runner(loaded, bench.request(SMALL, args.steps, fp8=fp8))
    per_step = (longer["denoise_s"] - second["denoise_s"]) / max(1, args.steps - 2)
    if args.mega_save:
        saved = torch.compiler.save_cache_artifacts()
        if saved is not None:
            (volume / MEGA_FILE).write_bytes(saved[0])
    caches = {f"{group}.{key}": value for group in ("inductor", "aot_autograd")
              for key, value in counters[group].items() if "cache" in key}
    print(json.dumps({
        "variant": args.variant, "import_s": round(imported, 1), "build_s": round(built, 1),
        "first_job_s": round(first["job_s"], 2), "second_job_s": round(second["job_s"], 2),
        "warmup_s": round(first["job_s"] - second["job_s"], 2),
        "per_step_s": round(per_step, 4), "steps": args.steps,
        "longer_job_s": round(longer["job_s"], 2), "new_graphs_first": first["new_graphs"],
        "new_graphs_second": second["new_graphs"], "tuning": tuning, "caches": caches,
        "speed": first.get("speed"),
        # Where the artefacts went: the models volume, not /tmp (issue 23's cache fix).
        "cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
        "volume_files": sum(1 for path in volume.rglob("*") if path.is_file()),
        "process_to_first_job_end_s": round(time.perf_counter() - STARTED - longer["job_s"]
                                            - second["job_s"], 1),
        "compile_times": compile_times(repr="str", aggregate=True)[:1500],
    }), flush=True)


def run_child(args: argparse.Namespace, variant: str, volume: Path, phase: str,
              extra: list[str]) -> dict[str, Any] | None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    env["FRAMECRAFT_MODELS_DIR"] = str(volume)
    if variant == "fp8-untuned":
        env["FRAMECRAFT_FP8_TUNING"] = "off"
    else:
        env.pop("FRAMECRAFT_FP8_TUNING", None)
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, __file__, "--child", "--variant", variant, "--scale", args.scale,
               "--device", args.device, "--steps", str(args.steps), *extra]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=args.child_timeout)
    except subprocess.TimeoutExpired:
        say(variant=variant, phase=phase, failed=f"timed out after {args.child_timeout}s")
        return None
    line = next((x for x in reversed(done.stdout.splitlines())
                 if x.startswith("{") and '"variant"' in x), None)
    if done.returncode != 0 or line is None:
        say(variant=variant, phase=phase, failed=done.returncode, stderr=done.stderr[-2500:])
        return None
    row = json.loads(line)
    row.update(phase=phase, process_s=round(time.perf_counter() - started, 1))
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="fp8-global,fp8,fp8-untuned,fp8-mega")
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=6, help="the longer job's steps")
    parser.add_argument("--deadline", type=float, default=540.0,
                        help="seconds: a process expected to end later is not started")
    parser.add_argument("--child-timeout", type=int, default=330)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="quality", help=argparse.SUPPRESS)
    parser.add_argument("--mega-save", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mega-load", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    volumes: dict[str, Path] = {}
    summary = []
    for variant in variants:
        volume = Path(tempfile.mkdtemp(prefix=f"fc-restart-{variant}-"))
        volumes[variant] = volume
        phases: list[tuple[str, list[str]]] = [("cold", []), ("warm", [])]
        if variant == "fp8":
            phases[0] = ("cold", ["--mega-save"])
        if variant == "fp8-mega":
            mega = volumes.get("fp8", Path("/nonexistent")) / MEGA_FILE
            if not mega.is_file():
                say(variant=variant, skipped="the fp8 variant saved no mega-cache")
                continue
            phases = [("mega", ["--mega-load", str(mega)])]
        for phase, extra in phases:
            expected = EXPECTED.get(f"{phase}-{variant}", EXPECTED_DEFAULT)
            if time.perf_counter() - STARTED + expected > args.deadline:
                say(variant=variant, phase=phase, skipped=f"would pass the {args.deadline}s "
                                                          "deadline")
                continue
            row = run_child(args, variant, volume, phase, extra)
            if row:
                summary.append({k: row[k] for k in ("variant", "phase", "warmup_s",
                                                    "first_job_s", "per_step_s", "caches")})
    say(summary=summary)


if __name__ == "__main__":
    main()
