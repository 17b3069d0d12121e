"""GPU benchmark of video editing: a Wan VACE 1.3B masked edit at 832x480x81 and an extension
window (81 frames made, the first 17 the clip's tail), whole jobs through the worker's runner
(run_generation, the call adapter's inputs, the memory plan) next to a plain diffusers call of
the same pipeline with the same inputs, in the same run.

    python bench/editing.py                  # on a GPU; writes its section of docs/performance.md
    python bench/editing.py --steps 4        # quicker
    python bench/editing.py --scale tiny --device cpu --steps 1 --no-write   # a dry run

Random full-size weights built by the catalogue's builder (bf16, the VAE in fp32), made on the
GPU and moved to host memory, where a loaded checkpoint would be before its plan places it.
Rows: plain diffusers (all on GPU), the runner all on GPU, the runner under the automatic plan
for this GPU (the same as all on GPU when that fits: then not run twice), and the low-VRAM plan
(what a compiling worker plans for an 8 GB card: block-level group offload on CUDA streams,
its blocks compiled beneath the hooks, and a tiled decode). The default 8 steps keep the run
near five minutes on an H100; every job of a row has the same step count, so job ratios compare like
with like, and s/step is given for 50-step estimates. `post s` is the worker's step after the
pipeline (laying the edit over its source with a feathered edge; joining the extension).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.cuda_clock import measured_peak_gb, reset_memory, sync  # noqa: E402
from worker.catalogue import (  # noqa: E402
    CATALOGUE,
    GenerationRequest,
    build_pipeline,
    family_of,
    get_preset,
)
from worker.editing import join, masks  # noqa: E402
from worker.runtime import speed  # noqa: E402
from worker.runtime.cache import LoadedPipeline, PipelineCache  # noqa: E402
from worker.runtime.memory import (  # noqa: E402
    GpuMemory,
    MemoryProfile,
    Plan,
    apply_plan,
    choose_plan,
    gpu_memory,
)
from worker.runtime.runner import run_generation  # noqa: E402

VACE = "wan2.1-vace-1.3b"
PROMPT = "a red sailing boat crossing the harbour at dawn, cinematic"
CONTEXT = 17
MARK_START, MARK_END = "<!-- editing benchmark -->", "<!-- /editing benchmark -->"


def requests(width: int, height: int, frames: int, steps: int) -> dict[str, GenerationRequest]:
    """The two jobs, with their media as the worker decodes them (uint8 frames and masks)."""
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    drawn = np.zeros((height, width), np.uint8)
    drawn[height // 4: height * 3 // 4, width // 3: width * 2 // 3] = 255
    area = masks.repaint_area(drawn, "change", width, height, frames, grow_px=8)
    common = {"preset_id": VACE, "prompt": PROMPT, "negative_prompt": "blurry, low quality",
              "width": width, "height": height, "num_frames": frames, "steps": steps,
              "guidance": 5.0, "seed": 1}
    return {
        "masked edit": GenerationRequest(task="edit", video=video,
                                         mask=masks.as_grey_frames(area), **common),
        "extension": GenerationRequest(task="extend", video=video[-CONTEXT:], **common),
    }


def finish(task: str, request: GenerationRequest, frames: np.ndarray) -> float:
    """The worker's step after the pipeline, timed: what EditVideo/ExtendVideo.finish do."""
    started = time.perf_counter()
    if task == "masked edit":
        alpha = masks.feather(masks.marked(np.asarray(request.mask)), 8)
        masks.composite(np.asarray(request.video), frames, alpha)
    else:
        join.join(np.asarray(request.video), frames, CONTEXT)
    return time.perf_counter() - started


class Bench:
    def __init__(self, scale: str, device: str) -> None:
        self.scale, self.device = scale, torch.device(device)
        self.rows: list[dict[str, Any]] = []

    def build(self) -> Any:
        started = time.perf_counter()
        dtype = torch.bfloat16 if self.device.type == "cuda" else None
        pipeline = build_pipeline(VACE, self.scale, device=self.device, dtype=dtype)
        if self.device.type == "cuda":
            pipeline.to("cpu")
        reset_memory()
        print(f"  built {VACE} ({self.scale}) in {time.perf_counter() - started:.1f}s",
              flush=True)
        return pipeline

    def runner_job(self, pipeline: Any, plan: Plan, request: GenerationRequest
                   ) -> tuple[dict[str, Any], np.ndarray]:
        cache = PipelineCache(loader=lambda preset_id: LoadedPipeline(
            pipeline, str(self.device), str(plan.profile), plan=plan,
            gpu=gpu_memory(self.device) if self.device.type == "cuda" else None))
        reset_memory()
        started = time.perf_counter()
        result = run_generation(request, lambda info: None, cache)
        sync()
        total = time.perf_counter() - started
        timings = result.timings
        return {"job_s": total, "s_per_step": timings["denoise_s"] / request.steps,
                "encode_s": timings["encode_s"], "decode_s": timings["decode_s"],
                "peak_gb": measured_peak_gb()}, result.frames

    def plain_job(self, pipeline: Any, request: GenerationRequest) -> dict[str, Any]:
        """What a user's script does: the pipeline on the GPU, one call, the same inputs."""
        preset = get_preset(VACE)
        kwargs = family_of(preset).calls.pipeline_kwargs(preset, request)  # PIL inputs, untimed
        reset_memory()
        marks: dict[str, float] = {}

        def first(module: Any, args: Any) -> None:
            marks.setdefault("first", time.perf_counter())

        def step_end(pipe: Any, index: int, timestep: Any, tensors: dict) -> dict:
            sync()
            marks["last"] = time.perf_counter()
            return {}

        hook = pipeline.transformer.register_forward_pre_hook(first)
        # The runner's Quality compile sets compiled code on these same blocks: plain diffusers
        # runs them eager (a run of 2026-11-28 timed plain with the runner's compiled blocks).
        with speed.eager_blocks(pipeline):
            started = time.perf_counter()
            pipeline(**kwargs, generator=torch.Generator("cpu").manual_seed(request.seed),
                     output_type="np", callback_on_step_end=step_end)
            sync()
            total = time.perf_counter() - started
        hook.remove()
        return {"job_s": total, "s_per_step": (marks["last"] - marks["first"]) / request.steps,
                "encode_s": marks["first"] - started, "decode_s": started + total - marks["last"],
                "peak_gb": measured_peak_gb()}

    def add(self, task: str, profile: str, request: GenerationRequest, figures: dict[str, Any],
            note: str = "") -> None:
        row = {"task": task, "profile": profile, "steps": request.steps,
               "size": f"{request.width}×{request.height}×{request.num_frames}",
               "note": note, "measured": dt.date.today().isoformat(), **figures}
        self.rows.append(row)
        print("  " + json.dumps(row), flush=True)

    def run(self, jobs: dict[str, GenerationRequest], low_vram: bool,
            runner_on_gpu: bool = True) -> None:
        gpu = (gpu_memory(self.device) if self.device.type == "cuda"
               else GpuMemory(141.0, 141.0))
        preset = get_preset(VACE)
        auto = choose_plan(preset.memory, gpu, steps=preset.default_steps)
        all_gpu = Plan(MemoryProfile.GPU, False, False, 0, 0)
        pipeline = self.build()
        pipeline.to(self.device)
        # Kernel selection and lazy CUDA set-up happen in a process's first job: out of the rows.
        warm = dataclasses.replace(jobs["masked edit"], steps=1)
        self.plain_job(pipeline, warm)
        # The runner's Quality mode compiles the repeated blocks in its first job at a size
        # (about 20 s for 1.3B on an H200; a worker's compile cache keeps it across restarts):
        # out of the rows, or the first row measures the compile.
        for request in jobs.values() if runner_on_gpu else ():
            self.runner_job(pipeline, all_gpu, dataclasses.replace(request, steps=2))
        for task, request in jobs.items():
            print(f"{task}: plain diffusers", flush=True)
            self.add(task, "plain diffusers (all on GPU)", request,
                     self.plain_job(pipeline, request))
            if not runner_on_gpu:
                continue
            print(f"{task}: runner, all on GPU", flush=True)
            figures, frames = self.runner_job(pipeline, all_gpu, request)
            figures["post_s"] = finish(task, request, frames)
            self.add(task, "runner: gpu", request, figures)
            if auto.profile == MemoryProfile.GPU and not auto.vae_tiling:
                self.add(task, "runner: automatic plan", request, figures,
                         "the plan for this GPU is all on GPU: the row above")
        plans = [] if not runner_on_gpu or (
            auto.profile == MemoryProfile.GPU and not auto.vae_tiling) else [
            ("runner: automatic plan", auto)]
        if low_vram and self.device.type == "cuda":
            # What a compiling worker on an 8 GB card plans (block-level offload, whose blocks
            # compile, with a tiled decode).
            small = choose_plan(preset.memory, GpuMemory(8.0, 8.0), steps=preset.default_steps,
                                compiled=True)
            plans.append((f"runner: low-VRAM plan ({small.profile}"
                          + (" + tiling)" if small.vae_tiling else ")"), small))
        del pipeline
        reset_memory()
        for label, plan in plans:
            pipeline = self.build()
            apply_plan(pipeline, plan, self.device)
            for request in jobs.values():  # this placement's compile, as above
                self.runner_job(pipeline, plan, dataclasses.replace(request, steps=2))
            for task, request in jobs.items():
                print(f"{task}: {label}", flush=True)
                figures, frames = self.runner_job(pipeline, plan, request)
                figures["post_s"] = finish(task, request, frames)
                self.add(task, label, request, figures, f"{plan.profile}"
                         + (", tiled decode" if plan.vae_tiling else ""))
            remove = getattr(pipeline, "remove_all_hooks", None)
            if callable(remove):
                remove()
            del pipeline
            reset_memory()


def render(rows: list[dict[str, Any]], machine: str) -> str:
    def num(row: dict[str, Any], key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "—"

    lines = [MARK_START, "", "## Video editing (Wan VACE 1.3B)", "",
             f"Measured on: {machine}; written by `python bench/editing.py`. Whole jobs",
             "through the worker's runner next to a plain diffusers call of the same pipeline",
             "with the same inputs; `post s` is the worker's step after the pipeline (the edit",
             "laid over its source with a feathered edge; the extension joined to its clip).", "",
             "| job | profile | size | steps | s/step | job s | post s | peak GB | measured "
             "| note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['task']} | {row['profile']} | {row['size']} | {row['steps']} | "
            f"{num(row, 's_per_step', '.2f')} | {num(row, 'job_s', '.1f')} | "
            f"{num(row, 'post_s', '.2f')} | {num(row, 'peak_gb', '.1f')} | {row['measured']} | "
            f"{row.get('note', '')} |")
    lines += ["", "Targets: all on GPU ≤ 1.05× plain diffusers; the low-VRAM plan ≤ 8 GB peak at "
              "≤ 1.1×.", ""]
    for task in ("masked edit", "extension"):
        plain = next((r for r in rows if r["task"] == task and r["profile"].startswith("plain")),
                     None)
        gpu = next((r for r in rows if r["task"] == task and r["profile"] == "runner: gpu"),
                   None)
        low = next((r for r in rows if r["task"] == task and "low-VRAM" in r["profile"]), None)
        if plain and gpu:
            ratio = gpu["job_s"] / plain["job_s"]
            lines.append(f"- {task}, all on GPU: {ratio:.3f}× plain diffusers per job "
                         f"({gpu['s_per_step'] / plain['s_per_step']:.3f}× per step): "
                         f"{'met' if ratio <= 1.05 else 'missed'}.")
        if plain and low:
            ratio = low["job_s"] / plain["job_s"]
            met = ratio <= 1.1 and low["peak_gb"] <= 8
            lines.append(f"- {task}, low-VRAM plan: {low['peak_gb']:.1f} GB peak, {ratio:.3f}× "
                         f"plain diffusers per job: {'met' if met else 'missed'}.")
    return "\n".join([*lines, "", MARK_END]) + "\n"


def write(section: str, out: Path) -> None:
    """Put the section into docs/performance.md, replacing an earlier one."""
    text = out.read_text() if out.exists() else ""
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        text = before + section.rstrip("\n") + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--no-low-vram", action="store_true", help="skip the offload rows")
    parser.add_argument("--low-vram-only", action="store_true",
                        help="only plain diffusers and the low-VRAM plan's rows")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    width, height, frames = (832, 480, 81) if args.scale == "full" else (64, 64, 21)
    if args.scale == "tiny":  # a dry run's toy model at a toy size
        CATALOGUE[VACE] = dataclasses.replace(get_preset(VACE), sizes=((64, 64),),
                                              default_width=64, default_height=64)
    bench = Bench(args.scale, args.device)
    started = time.perf_counter()
    bench.run(requests(width, height, frames, args.steps), low_vram=not args.no_low_vram,
              runner_on_gpu=not args.low_vram_only)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        machine = f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}"
    else:
        machine = "CPU dry run"
    section = render(bench.rows, machine)
    print(section)
    print(f"benchmark took {time.perf_counter() - started:.0f} s")
    if not args.no_write:
        write(section, Path(args.out))


if __name__ == "__main__":
    main()
