"""GPU benchmark: memory profiles, plain diffusers, every preset, cold and warm starts.

Full-size architectures with random weights (each family's builder in worker/catalogue/),
initialised on the GPU in bf16: they cost what trained weights cost. Every job goes through the
worker's own runner (run_generation) and memory plans (memory.apply_plan); the plain-diffusers
rows call the pipeline directly, as a user's script would.

    python bench/gpu_profiles.py                      # everything, writes docs/performance.md
    python bench/gpu_profiles.py --sections wan13b    # some sections; results are merged
    python bench/gpu_profiles.py --scale tiny --device cpu --sections wan13b  # a dry run

Results are kept in docs/performance.json so sections can be measured in separate runs and
the table still shows them all, each with the date it was measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.cuda_clock import measured_peak_gb, reset_memory, sync  # noqa: E402
from worker.catalogue import (  # noqa: E402
    CATALOGUE,
    GenerationRequest,
    Task,
    build_pipeline,
    get_preset,
)
from worker.runtime.cache import LoadedPipeline, PipelineCache  # noqa: E402
from worker.runtime.memory import (  # noqa: E402
    GpuMemory,
    MemoryProfile,
    Plan,
    apply_plan,
    choose_plan,
    peak_gb,
)
from worker.runtime.runner import run_generation  # noqa: E402

P = MemoryProfile
# Sections other benchmarks fill (bench/speed.py's, bench/editing.py's) are kept as they are.
KEPT_MARKERS = ("\n## Speed modes", "\n<!-- editing benchmark -->")
PROMPT = "a red fox running through fresh snow at dawn, cinematic"


class Bench:
    def __init__(self, scale: str, device: str, steps: dict[str, int]) -> None:
        self.scale = scale
        self.device = torch.device(device)
        self.steps = steps
        self.rows: list[dict[str, Any]] = []

    # -- helpers -----------------------------------------------------------------------

    def size(self, preset_id: str) -> tuple[int, int, int]:
        preset = get_preset(preset_id)
        if self.scale == "tiny":
            return 64, 64, preset.min_frames
        return preset.default_width, preset.default_height, preset.default_frames

    def request(self, preset_id: str, steps: int, size: tuple[int, int, int] | None = None,
                task: Task | None = None) -> GenerationRequest:
        preset = get_preset(preset_id)
        width, height, frames = size or self.size(preset_id)
        task = task or (Task.T2V if preset.can(Task.T2V) else Task.I2V)
        extra: dict[str, Any] = {}
        if task == Task.I2V:
            extra["image"] = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8).numpy()
        return GenerationRequest(
            preset_id=preset_id, prompt=PROMPT, negative_prompt="blurry, low quality",
            width=width, height=height, num_frames=frames, steps=steps,
            guidance=preset.default_guidance, seed=1, task=str(task), **extra,
        )

    def build_on_host(self, preset_id: str) -> Any:
        """Random weights made on the GPU (fast), then moved to host memory, where a loaded
        checkpoint would be before its memory plan places it."""
        started = time.perf_counter()
        dtype = torch.bfloat16 if self.device.type == "cuda" else None
        pipeline = build_pipeline(preset_id, self.scale, device=self.device, dtype=dtype)
        if self.device.type == "cuda":
            pipeline.to("cpu")
        reset_memory()
        print(f"  built {preset_id} in {time.perf_counter() - started:.1f}s", flush=True)
        return pipeline

    def run_job(self, pipeline: Any, plan: Plan, request: GenerationRequest,
                placed: bool = False) -> dict[str, Any]:
        reset_memory()
        if not placed:
            apply_plan(pipeline, plan, self.device, exclude_leaf=("image_encoder",))
        if plan.profile == P.CPU:
            pipeline.to(self.device)
        cache = PipelineCache(
            loader=lambda preset_id: LoadedPipeline(pipeline, str(self.device), plan.profile),
        )
        reset_memory()
        started = time.perf_counter()
        result = run_generation(request, lambda info: None, cache)
        sync()
        total = time.perf_counter() - started
        timings = result.timings
        steps = request.steps
        return {
            "s_per_step": timings["denoise_s"] / steps,
            "job_s": total,
            "encode_s": timings["encode_s"],
            "decode_s": timings["decode_s"],
            "peak_gb": measured_peak_gb(),
        }

    def plain_diffusers(self, pipeline: Any, request: GenerationRequest) -> dict[str, Any]:
        """The same job as a plain diffusers script: everything on the GPU, one call."""
        pipeline.to(self.device)
        reset_memory()
        marks: dict[str, float] = {}

        def first(module: Any, args: Any) -> None:
            marks.setdefault("first", time.perf_counter())

        def step_end(pipe: Any, index: int, timestep: Any, tensors: dict) -> dict:
            sync()
            marks["last"] = time.perf_counter()
            return {}

        hook = pipeline.transformer.register_forward_pre_hook(first)
        started = time.perf_counter()
        pipeline(
            prompt=request.prompt, negative_prompt=request.negative_prompt,
            height=request.height, width=request.width, num_frames=request.num_frames,
            num_inference_steps=request.steps, guidance_scale=request.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np",
            callback_on_step_end=step_end,
        )
        sync()
        total = time.perf_counter() - started
        hook.remove()
        return {
            "s_per_step": (marks["last"] - marks["first"]) / request.steps,
            "job_s": total,
            "encode_s": marks["first"] - started,
            "decode_s": started + total - marks["last"],
            "peak_gb": measured_peak_gb(),
        }

    def release(self, pipeline: Any) -> None:
        remove = getattr(pipeline, "remove_all_hooks", None)
        if callable(remove):
            remove()
        reset_memory()

    def add(self, section: str, model: str, profile: str, size: tuple[int, int, int],
            steps: int, figures: dict[str, Any], note: str = "") -> None:
        row = {"section": section, "model": model, "profile": profile,
               "size": "{}×{}×{}".format(*size), "steps": steps, "note": note,
               "measured": dt.date.today().isoformat(), **figures}
        self.rows.append(row)
        print("  " + json.dumps(row), flush=True)

    # -- sections ----------------------------------------------------------------------

    def profiles_section(self, section: str, preset_id: str,
                         profiles: list[tuple[MemoryProfile, bool]], plain: bool) -> None:
        steps = self.steps[section]
        size = self.size(preset_id)
        if self.scale == "full":
            size = (832, 480, 81)  # the reference job for both Wan sizes
        request = self.request(preset_id, steps, size)
        needs = get_preset(preset_id).memory_at(size[0], size[1])

        def predicted(profile: MemoryProfile, tiling: bool) -> str:
            if self.device.type != "cuda":
                return ""
            gb = peak_gb(profile, needs, vae_tiling=tiling, fp8=False)
            return f"predicted peak {gb:.1f} GB"

        for index, (profile, tiling) in enumerate(profiles):
            label = f"{profile} + vae tiling" if tiling else str(profile)
            print(f"{section}: {label}", flush=True)
            pipeline = self.build_on_host(preset_id)
            plan = Plan(profile=profile, vae_tiling=tiling, fp8=False, peak_gb=0, estimated_s=0)
            try:
                if index == 0:
                    # Kernel selection and lazy CUDA set-up happen in the first job of a
                    # process; a one-step job takes them out of the measured one.
                    self.run_job(pipeline, plan, dataclasses.replace(request, steps=1))
                    plan = dataclasses.replace(plan)
                figures = self.run_job(pipeline, plan, request, placed=index == 0)
                self.add(section, preset_id, label, size, steps, figures,
                         predicted(profile, tiling))
            except torch.OutOfMemoryError as exc:
                self.add(section, preset_id, label, size, steps, {}, f"OOM: {exc}"[:120])
            self.release(pipeline)
            del pipeline
            reset_memory()
        if plain:
            print(f"{section}: plain diffusers", flush=True)
            pipeline = self.build_on_host(preset_id)
            self.add(section, preset_id, "plain diffusers (all on GPU)", size, steps,
                     self.plain_diffusers(pipeline, request), predicted(P.GPU, False))
            del pipeline
            reset_memory()

    def presets_section(self, ids: list[str]) -> None:
        steps = self.steps["presets"]
        for preset_id in ids:
            preset = get_preset(preset_id)
            print(f"presets: {preset_id}", flush=True)
            gpu = GpuMemory(141, 141)
            if self.device.type == "cuda":
                _free, total = torch.cuda.mem_get_info()
                gpu = GpuMemory(total / 2**30, total / 2**30)
            plan = choose_plan(preset.memory, gpu, steps=preset.default_steps)
            if self.device.type != "cuda":
                plan = Plan(P.CPU, False, False, 0, 0)
            size = self.size(preset_id)
            try:
                pipeline = self.build_on_host(preset_id)
                figures = self.run_job(pipeline, plan, self.request(preset_id, steps, size))
                self.add("presets", preset_id, str(plan.profile), size, steps, figures,
                         f"predicted peak {plan.peak_gb:.1f} GB")
                self.release(pipeline)
                del pipeline
            except Exception as exc:  # one broken preset must not lose the others' rows
                self.add("presets", preset_id, str(plan.profile), size, steps, {},
                         f"failed: {type(exc).__name__}: {exc}"[:160])
            reset_memory()

    def cold_warm_section(self, preset_id: str) -> None:
        """Cold load from local disk through the production loader, then a warm second job."""
        steps = self.steps["coldwarm"]
        size = self.size(preset_id)
        with tempfile.TemporaryDirectory() as models:
            pipeline = build_pipeline(
                preset_id, self.scale, device=self.device,
                dtype=torch.bfloat16 if self.device.type == "cuda" else None,
            )
            pipeline.save_pretrained(Path(models) / preset_id)
            del pipeline
            reset_memory()
            os.environ["FRAMECRAFT_MODELS_DIR"] = models
            os.environ["FRAMECRAFT_DEVICE"] = str(self.device)
            dropped = _drop_page_cache()
            cache = PipelineCache()
            request = self.request(preset_id, steps, size)
            for label in ("cold", "warm"):
                reset_memory()
                started = time.perf_counter()
                result = run_generation(request, lambda info: None, cache)
                sync()
                to_first_step = result.timings["load_s"] + result.timings["encode_s"]
                note = "page cache dropped" if label == "cold" and dropped else ""
                self.add("coldwarm", preset_id, f"{label} job ({result.memory_profile})", size,
                         steps, {"load_s": result.timings["load_s"],
                                 "to_first_step_s": to_first_step,
                                 "job_s": time.perf_counter() - started,
                                 "s_per_step": result.timings["denoise_s"] / steps,
                                 "peak_gb": measured_peak_gb()}, note)
            cache.clear()


def _shrink_catalogue() -> None:
    """A dry run's toy models run at 64x64 with the fewest frames each family takes."""
    import dataclasses

    for preset in list(CATALOGUE.values()):
        frames = preset.min_frames
        CATALOGUE[preset.id] = dataclasses.replace(
            preset, sizes=((64, 64),), default_width=64, default_height=64,
            default_frames=frames, max_frames=max(frames, preset.frame_step + 1),
        )


def _drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def hardware() -> str:
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    else:
        gpu = "no GPU (CPU dry run)"
    import diffusers

    return (f"{gpu}; {os.cpu_count()} CPU cores; torch {torch.__version__}, "
            f"diffusers {diffusers.__version__}, Python {platform.python_version()}")


def render(rows: list[dict[str, Any]], machine: str) -> str:
    def num(row: dict[str, Any], key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "—"

    lines = [
        "# GPU performance",
        "",
        f"Measured {dt.date.today().isoformat()} on: {machine}.",
        "",
        "Full-size architectures with random bf16 weights (fp32 VAEs), built by",
        "the family builders of `worker/catalogue/`; written by `python bench/gpu_profiles.py`.",
        "Jobs run through the worker's runner and memory plans; `s/step` is one denoising step",
        "with classifier-free guidance (two transformer passes); `peak` is",
        "`torch.cuda.max_memory_allocated` over the whole job (text encoding, denoising, decode).",
        "",
        "| section | model | profile | size (W×H×F) | steps | s/step | job s | peak GB | "
        "measured | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['section']} | {row['model']} | {row['profile']} | {row['size']} | "
            f"{row['steps']} | {num(row, 's_per_step', '.2f')} | {num(row, 'job_s', '.1f')} | "
            f"{num(row, 'peak_gb', '.1f')} | {row['measured']} | {row.get('note', '')} |"
        )
    lines += _targets(rows)
    extra = [row for row in rows if "to_first_step_s" in row]
    if extra:
        lines += ["", "| cold / warm | load s | request → first step s |", "|---|---|---|"]
        for row in extra:
            lines.append(f"| {row['profile']} | {row['load_s']:.1f} | "
                         f"{row['to_first_step_s']:.1f} |")
    return "\n".join(lines) + "\n"


def _targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, checked against the rows measured."""

    def find(section: str, profile: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["section"] == section and r["profile"] == profile
                     and "s_per_step" in r), None)

    out = ["", "Targets (whole jobs of a real length first; then per-step ratios, whose job",
           "ratios include the fixed per-job costs of a short benchmark job: streaming the",
           "text encoder in, a tiled decode):", ""]
    gpu, plain = find("wan13b", "gpu"), find("wan13b", "plain diffusers (all on GPU)")
    if gpu and plain:
        ratio = gpu["s_per_step"] / plain["s_per_step"]
        jobs = gpu["job_s"] / plain["job_s"]
        out.append(f"- Wan 1.3B all on GPU vs plain diffusers: {ratio:.3f}× per step, "
                   f"{jobs:.2f}× per job (target ≤ 1.05×): "
                   f"{'met' if ratio <= 1.05 else 'missed'}.")
    # Whole jobs of a real length first, where the per-job costs of offloading (streaming the
    # text encoder in, a tiled decode) weigh what they weigh in use; then the short jobs.
    for section, limit in (("jobs13b", 3.0), ("jobs14b", 8.0), ("wan13b", 3.0),
                           ("wan14b", 8.0)):
        base = find(section, "gpu")
        leaf = find(section, "group_offload_leaf + vae tiling")
        if not (base and leaf):
            continue
        jobs = leaf["job_s"] / base["job_s"]
        if section.startswith("jobs"):
            met = leaf["peak_gb"] <= limit and jobs <= 1.1
            out.append(
                f"- {leaf['model']}, a whole {base['steps']}-step job: group offload (leaf, "
                f"streams, tiled decode) {leaf['job_s']:.1f} s at {leaf['peak_gb']:.1f} GB peak "
                f"against all on GPU {base['job_s']:.1f} s: {jobs:.3f}× (target ≤ 1.1× at ≤ "
                f"{limit:g} GB): {'met' if met else 'missed'}."
            )
            continue
        ratio = leaf["s_per_step"] / base["s_per_step"]
        met = leaf["peak_gb"] <= limit and ratio <= 1.1
        out.append(
            f"- {leaf['model']} group offload (leaf, streams, tiled decode): peak "
            f"{leaf['peak_gb']:.1f} GB (target ≤ {limit:g}), {ratio:.3f}× the all-on-GPU "
            f"step time, {jobs:.2f}× its {base['steps']}-step job (target ≤ 1.1×): "
            f"{'met per step' if met else 'missed'}."
        )
    return out


def _other_sections(out: Path) -> str:
    """What other benchmarks wrote into the file, from the first of their sections on."""
    text = out.read_text() if out.exists() else ""
    starts = [at for marker in KEPT_MARKERS if (at := text.find(marker)) >= 0]
    return text[min(starts):] if starts else ""


SECTIONS = ("wan13b", "wan14b", "jobs13b", "jobs14b", "presets", "coldwarm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--presets", default="", help="comma-separated ids for 'presets'")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the table from the stored results, measuring nothing")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    out = Path(args.out)
    store = out.with_suffix(".json")
    # Short jobs for the per-step figures; jobs13b runs the 1.3B's default 50 steps, jobs14b
    # ten steps of the 14B (its 50 would take over five minutes per profile).
    steps = {"wan13b": 4, "wan14b": 2, "jobs13b": 50, "jobs14b": 10, "presets": 2,
             "coldwarm": 2}
    bench = Bench(args.scale, args.device, steps)
    if args.render_only:
        stored = json.loads(store.read_text())
        out.write_text(render(stored["rows"], stored["hardware"]) + _other_sections(out))
        print(out.read_text())
        return
    if args.scale == "tiny":
        _shrink_catalogue()
    previous = json.loads(store.read_text())["rows"] if store.exists() else []
    wanted = [name for name in args.sections.split(",") if name]
    machine = hardware()

    def save() -> None:
        kept = [row for row in previous if row["section"] not in wanted]
        rows = sorted(kept + bench.rows, key=lambda row: SECTIONS.index(row["section"]))
        out.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps({"hardware": machine, "rows": rows}, indent=1))
        out.write_text(render(rows, machine) + _other_sections(out))

    # Offloading is for small GPUs, where the planner tiles the decode too; one leaf row
    # without tiling shows what the untiled fp32 decode alone costs.
    small = [(P.GPU, False), (P.MODEL_OFFLOAD, True), (P.GROUP_LEAF, True),
             (P.GROUP_LEAF, False), (P.GROUP_BLOCK, True), (P.SEQUENTIAL, True)]
    large = [(P.GPU, False), (P.MODEL_OFFLOAD, True), (P.GROUP_LEAF, True),
             (P.GROUP_BLOCK, True)]
    # The whole-job comparison the issue's targets name.
    pair = [(P.GPU, False), (P.GROUP_LEAF, True)]
    if args.device == "cpu":
        small = large = pair = [(P.CPU, False)]
    for section in wanted:
        if section == "wan13b":
            bench.profiles_section("wan13b", "wan2.1-t2v-1.3b", small, plain=True)
        elif section == "wan14b":
            bench.profiles_section("wan14b", "wan2.1-t2v-14b", large, plain=False)
        elif section in ("jobs13b", "jobs14b"):
            preset_id = "wan2.1-t2v-1.3b" if section == "jobs13b" else "wan2.1-t2v-14b"
            bench.profiles_section(section, preset_id, pair, plain=False)
        elif section == "presets":
            ids = [p for p in (args.presets.split(",") if args.presets else CATALOGUE) if p]
            ids = [p for p in ids if p not in ("tiny", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b")]
            bench.presets_section(ids)
        elif section == "coldwarm":
            bench.cold_warm_section("wan2.1-t2v-1.3b")
        save()
    print(out.read_text())


if __name__ == "__main__":
    main()
