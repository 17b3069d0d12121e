"""GPU benchmark of the speed modes: plain diffusers against Quality, Quality + fp8, Balanced and
Preview, through the worker's own runner, with random full-size weights.

Wan 2.1 1.3B at 832x480x81 with 50 steps and CFG (whole jobs), then Wan 2.1 14B at 480p with few
steps (its 50-step job takes about five minutes a run: whole-job figures for 14B are per-step
times scaled to 50 steps, and say so). For each: job time and its ratio to plain diffusers,
peak GPU memory, compile and warm-up time, recompiles in a second job of the same size, a
restarted worker's first job with the compile cache (a subprocess), each mode under group
offload against all on the GPU, and the final latents' difference from plain diffusers.

    python bench/speed.py                          # everything, about 9 minutes on an H100
                                                   # (fp8 last: its compile alone took 160 s)
    python bench/speed.py --parts plain,quality,balanced --steps 20
    python bench/speed.py --scale tiny --device cpu  # a dry run of the script itself

Every figure is printed (and flushed) as soon as it is measured, so a run cut short by a time
limit still leaves what it measured. Fill docs/performance.md's "Speed modes" from the output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.cuda_clock import measured_peak_gb, reset_memory, sync  # noqa: E402
from worker.catalogue import CATALOGUE, GenerationRequest, build_pipeline, get_preset  # noqa: E402
from worker.catalogue.speed import preview_variant, step_cache_for  # noqa: E402
from worker.runtime import speed  # noqa: E402
from worker.runtime.cache import LoadedPipeline, PipelineCache, _make_variant  # noqa: E402
from worker.runtime.memory import MemoryProfile, Plan, apply_plan  # noqa: E402
from worker.runtime.runner import run_generation  # noqa: E402

PARTS = ("plain", "quality", "fp8", "balanced", "preview", "restart", "offload", "big")
SMALL, BIG = "wan2.1-t2v-1.3b", "wan2.1-t2v-14b"
PROMPT = "a red fox running through fresh snow at dawn, cinematic"
STARTED = time.perf_counter()


def say(*parts: Any) -> None:
    print(f"[{time.perf_counter() - STARTED:6.0f}s]", *parts, flush=True)


def _graphs() -> int:
    """Graphs Dynamo has compiled so far in this process: a recompile adds one."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.results: dict[str, dict[str, Any]] = {}

    def request(self, preset_id: str, steps: int, mode: str = "quality", fp8: bool = False,
                size: tuple[int, int, int] | None = None) -> GenerationRequest:
        preset = get_preset(preset_id)
        width, height, frames = size or (832, 480, 81)
        if self.args.scale == "tiny":
            width, height, frames = 64, 64, 5
        return GenerationRequest(
            preset_id=preset_id, prompt=PROMPT, negative_prompt="blurry, low quality",
            width=width, height=height, num_frames=frames, steps=steps,
            guidance=preset.default_guidance, seed=1, speed=mode, fp8=fp8)

    def build(self, preset_id: str) -> Any:
        started = time.perf_counter()
        dtype = torch.bfloat16 if self.device.type == "cuda" else None
        pipeline = build_pipeline(preset_id, self.args.scale, device=self.device, dtype=dtype)
        say(f"built {preset_id} ({self.args.scale}) in {time.perf_counter() - started:.1f}s")
        return pipeline

    def plain(self, pipeline: Any, request: GenerationRequest) -> dict[str, Any]:
        """The job as a plain diffusers script: one call, everything on the GPU."""
        reset_memory()
        latents: list[torch.Tensor] = []
        marks: dict[str, float] = {}

        def first(module: Any, args: Any) -> None:
            marks.setdefault("first", time.perf_counter())

        def step_end(pipe: Any, index: int, timestep: Any, tensors: dict) -> dict:
            sync()
            marks["last"] = time.perf_counter()
            if index == request.steps - 1:
                latents.append(tensors["latents"].float().cpu())
            return {}

        hook = pipeline.transformer.register_forward_pre_hook(first)
        started = time.perf_counter()
        pipeline(prompt=request.prompt, negative_prompt=request.negative_prompt,
                 height=request.height, width=request.width, num_frames=request.num_frames,
                 num_inference_steps=request.steps, guidance_scale=request.guidance,
                 generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np",
                 callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=["latents"])
        sync()
        hook.remove()
        return {"job_s": time.perf_counter() - started, "peak_gb": measured_peak_gb(),
                "denoise_s": marks["last"] - marks["first"],
                "latents": latents[-1] if latents else None}

    def runner(self, loaded: LoadedPipeline, request: GenerationRequest) -> dict[str, Any]:
        """The job through the worker's runner, on an already placed pipeline."""
        cache = PipelineCache(loader=lambda key: loaded)
        reset_memory()
        latents: list[torch.Tensor] = []

        def on_step(info: Any) -> None:
            if info.step == info.total and info.latents is not None:
                latents.append(info.latents.float().cpu())

        graphs = _graphs()
        started = time.perf_counter()
        result = run_generation(request, on_step, cache)
        sync()
        return {"job_s": time.perf_counter() - started, "peak_gb": measured_peak_gb(),
                "denoise_s": result.timings["denoise_s"], "speed": result.speed,
                "new_graphs": _graphs() - graphs, "latents": latents[-1] if latents else None}

    def loaded(self, pipeline: Any, preset_id: str, profile: MemoryProfile = MemoryProfile.GPU,
               fp8: bool = False) -> LoadedPipeline:
        plan = Plan(profile=profile, vae_tiling=False, fp8=False, peak_gb=0, estimated_s=0)
        state = speed.prepare(pipeline, get_preset(preset_id), self.device, fp8=fp8)
        return LoadedPipeline(pipeline, str(self.device), str(profile), plan=plan, speed=state)

    def report(self, name: str, row: dict[str, Any], plain: dict[str, Any] | None,
               note: str = "") -> None:
        ratio = f" = {row['job_s'] / plain['job_s']:.3f}× plain" if plain else ""
        diff = ""
        if plain and plain.get("latents") is not None and row.get("latents") is not None:
            delta = (row["latents"] - plain["latents"]).abs()
            diff = f"; latents vs plain: max {delta.max():.4f}, mean {delta.mean():.5f}"
        extra = {k: row[k] for k in ("new_graphs",) if k in row}
        say(f"{name}: {row['job_s']:.1f}s{ratio}, peak {row['peak_gb']:.1f} GiB{diff} "
            f"{extra or ''} {row.get('speed', '')} {note}".rstrip())
        self.results[name] = {k: v for k, v in row.items() if k != "latents"}

    # -- Wan 2.1 1.3B ---------------------------------------------------------------------

    def part(self, name: str, work: Any, *args: Any) -> None:
        """One measurement; a failure is printed and the run goes on to the next."""
        try:
            work(*args)
        except Exception as exc:  # the run is one shot: keep what the others measure
            say(f"{name} FAILED: {type(exc).__name__}: {str(exc)[:1500]}")

    def small(self, parts: set[str]) -> None:
        steps = self.args.steps
        pipeline = self.build(SMALL)
        plain = None
        if "plain" in parts:
            plain = self.plain(pipeline, self.request(SMALL, steps))
            self.report("1.3B plain diffusers", plain, None, f"({steps} steps, CFG)")
        loaded = self.loaded(pipeline, SMALL)
        say(f"attention backend chosen: {loaded.speed.attention}")
        if "quality" in parts:
            self.part("quality", self.quality, loaded, plain)
        if "balanced" in parts:
            self.part("balanced", self.balanced, loaded, plain)
        if "preview" in parts:
            self.part("preview", self.preview, pipeline, SMALL, plain)
        if "restart" in parts and self.device.type == "cuda":
            self.part("restart", self.restart)
        if "offload" in parts and self.device.type == "cuda":
            self.part("offload", self.offload, pipeline)
        del loaded, pipeline
        reset_memory()

    def quality(self, loaded: LoadedPipeline, plain: dict[str, Any] | None) -> None:
        steps = self.args.steps
        warm = self.runner(loaded, self.request(SMALL, 2))
        self.report("1.3B Quality warm-up (2 steps, compiles)", warm, None)
        row = self.runner(loaded, self.request(SMALL, steps))
        self.report("1.3B Quality", row, plain,
                    "(target <= 0.88x; new_graphs must be 0: same size as the warm-up)")
        per_step = row["denoise_s"] / steps
        say(f"1.3B Quality compile + warm-up ≈ {warm['job_s'] - 2 * per_step:.1f}s beyond "
            "two warm steps")
        self.results["quality_per_step"] = {"s": per_step}

    def balanced(self, loaded: LoadedPipeline, plain: dict[str, Any] | None) -> None:
        row = self.runner(loaded, self.request(SMALL, self.args.steps, "balanced"))
        self.report("1.3B Balanced", row, plain, "(target <= 0.45x)")

    def preview(self, pipeline: Any, preset_id: str, plain: dict[str, Any] | None,
                scale_to: int | None = None) -> None:
        """The distilled variant: the base's weights (a fused LoRA costs nothing per step) with
        the variant's scheduler, steps and guidance."""
        variant = preview_variant(get_preset(preset_id))
        assert variant is not None
        original = pipeline.scheduler
        _make_variant(pipeline, dataclasses.replace(variant, loras=()))
        loaded = self.loaded(pipeline, variant.id)
        CATALOGUE[variant.id] = dataclasses.replace(variant, loras=(), builtin=True,
                                                    source=None)
        try:
            row = self.runner(loaded, self.request(preset_id, self.args.steps, "preview"))
        finally:
            CATALOGUE[variant.id] = variant
            pipeline.scheduler = original
        note = "(target <= 0.06x for 14B)"
        if scale_to and plain:
            note = f"against plain scaled to {scale_to} steps {note}"
        self.report(f"{preset_id} Preview ({variant.default_steps} steps)", row, plain, note)

    def fp8(self) -> None:
        """Last, on a fresh 1.3B: fp8's compile took 160 s on an H200. With fewer steps than
        plain's job, the whole job is scaled from the per-step time (and said so)."""
        if self.device.type != "cuda" or (err := speed.fp8_error(self.device, None)):
            say(f"fp8 skipped: {err if self.device.type == 'cuda' else 'no GPU'}")
            return
        pipeline = self.build(SMALL)
        steps = self.args.fp8_steps
        plain = self.results.get("1.3B plain diffusers")
        plain_steps = self.args.steps
        if plain is None:  # fp8 alone: plain diffusers at fp8's steps, before quantizing
            self.plain(pipeline, self.request(SMALL, 1))  # CUDA set-up, out of the row
            plain, plain_steps = self.plain(pipeline, self.request(SMALL, steps)), steps
            self.report(f"1.3B plain diffusers ({steps} steps, fp8's baseline)", plain, None)
        loaded = self.loaded(pipeline, SMALL, fp8=True)
        warm = self.runner(loaded, self.request(SMALL, 2, fp8=True))
        self.report("1.3B Quality + fp8 warm-up (2 steps, compiles)", warm, None)
        row = self.runner(loaded, self.request(SMALL, steps, fp8=True))
        if steps != plain_steps:
            per_step = row["denoise_s"] / steps
            scaled = row["job_s"] - row["denoise_s"] + per_step * self.args.steps
            say(f"1.3B Quality + fp8: {steps} steps in {row['job_s']:.1f}s; scaled to "
                f"{self.args.steps} steps ≈{scaled:.1f}s = {scaled / plain['job_s']:.3f}× plain "
                f"(target <= 0.82x), peak {row['peak_gb']:.1f} GiB")
            return
        self.report(f"1.3B Quality + fp8 ({steps} steps)", row, plain, "(target <= 0.82x)")

    def restart(self) -> None:
        """A new process (a restarted worker) runs its first Quality job of the same size with
        the compile cache the first process filled."""
        per_step = self.results.get("quality_per_step", {}).get("s", 0.0)
        command = [sys.executable, __file__, "--child-restart", "--device", self.args.device,
                   "--scale", self.args.scale]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(),
                              timeout=300)
        line = next((x for x in done.stdout.splitlines() if x.startswith("{")), None)
        if done.returncode != 0 or line is None:
            say(f"restart failed ({done.returncode}): {done.stderr[-2000:]}")
            return
        child = json.loads(line)
        say(f"restarted worker: first 2-step Quality job {child['job_s']:.1f}s, of which "
            f"≈{child['job_s'] - 2 * per_step - child['encode_decode_s']:.1f}s compile and "
            f"warm-up (target <= 20 s); process total {time.perf_counter() - started:.0f}s "
            f"with the build")

    def offload(self, pipeline: Any) -> None:
        """Each mode, whole jobs, with the transformer under block-level group offload on CUDA
        streams (what a compiling worker plans where the model does not fit; Quality's blocks
        compile beneath the hooks), against the same mode all on the GPU. The decode is not
        tiled on either side: this measures the offload, not the tiling."""
        steps = self.args.offload_steps
        gpu_rows: dict[str, float] = {}
        on_gpu = self.loaded(pipeline, SMALL)
        self.runner(on_gpu, self.request(SMALL, 2))  # compiled already, unless quality was skipped
        for mode in ("quality", "balanced"):
            row = self.runner(on_gpu, self.request(SMALL, steps, mode))
            gpu_rows[mode] = row["job_s"]
            say(f"1.3B {mode} all on the GPU: {row['job_s']:.1f}s ({steps} steps)")
        pipeline.to("cpu")
        reset_memory()
        plan = Plan(profile=MemoryProfile.GROUP_BLOCK, vae_tiling=False, fp8=False, peak_gb=0,
                    estimated_s=0)
        apply_plan(pipeline, plan, self.device)
        loaded = self.loaded(pipeline, SMALL, MemoryProfile.GROUP_BLOCK)
        loaded.plan = plan
        warm = self.runner(loaded, self.request(SMALL, 2))  # the switches' compile
        say(f"compile beneath the offload hooks: {warm['new_graphs']} new graphs, "
            f"{warm['job_s']:.1f}s for 2 steps")
        for mode in ("quality", "balanced"):
            row = self.runner(loaded, self.request(SMALL, steps, mode))
            say(f"1.3B {mode} under group offload (block, streams): {row['job_s']:.1f}s, "
                f"{row['job_s'] / gpu_rows[mode]:.3f}× its all-on-GPU time ({steps} steps, "
                f"target <= 1.1x), peak {row['peak_gb']:.1f} GiB, new graphs "
                f"{row['new_graphs']} {row['speed']}")
        pipeline.remove_all_hooks()
        pipeline.to(self.device)

    # -- Wan 2.1 14B at 480p ----------------------------------------------------------------

    def big(self, parts: set[str]) -> None:
        """Wan 2.1 14B at 480p, after the 1.3B's pipeline is gone."""
        steps = self.args.big_steps
        pipeline = self.build(BIG)
        size = (832, 480, 81)
        plain = self.plain(pipeline, self.request(BIG, steps, size=size))
        self.report(f"14B plain diffusers ({steps} steps)", plain, None)
        loaded = self.loaded(pipeline, BIG)

        def quality() -> None:
            self.runner(loaded, self.request(BIG, 1, size=size))
            row = self.runner(loaded, self.request(BIG, steps, size=size))
            self.report(f"14B Quality ({steps} steps)", row, plain)

        if "quality" in parts:
            self.part("14B quality", quality)
        if "balanced" in parts:
            fraction = step_cache_for(get_preset(BIG)).computed_fraction(50)
            say(f"14B Balanced at 50 steps computes {fraction:.2f} of its steps (MagCache, "
                "published calibration): whole job ≈ that × plain's denoising, not measured "
                "here for time")
        if "preview" in parts:
            # Plain's whole 50-step job, from its per-step time at `steps` steps.
            scaled = dict(plain)
            # `denoise_s` runs from the first step's first forward to the last step's end: all
            # `steps` steps (dividing by steps - 1 overstated plain's job by 2x at 2 steps).
            per_step = plain["denoise_s"] / steps
            scaled["job_s"] = plain["job_s"] - plain["denoise_s"] + per_step * 50
            say(f"14B plain diffusers, 50 steps, scaled from {steps}: ≈{scaled['job_s']:.0f}s "
                f"({per_step:.2f}s a step, encode and decode as measured)")
            self.part("14B preview", self.preview, pipeline, BIG, scaled, 50)


def child_restart(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else None
    pipeline = build_pipeline(SMALL, args.scale, device=device, dtype=dtype)
    bench = Bench(args)
    loaded = bench.loaded(pipeline, SMALL)
    row = bench.runner(loaded, bench.request(SMALL, 2))
    encode_decode = row["job_s"] - row["denoise_s"]
    print(json.dumps({"job_s": row["job_s"], "encode_decode_s": encode_decode,
                      "new_graphs": row["new_graphs"]}), flush=True)


def _shrink_catalogue() -> None:
    """A dry run's toy models run at 64x64 with the fewest frames each model takes."""
    for preset in list(CATALOGUE.values()):
        frames = preset.min_frames
        CATALOGUE[preset.id] = dataclasses.replace(
            preset, sizes=((64, 64),), default_width=64, default_height=64,
            default_frames=frames, max_frames=frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--steps", type=int, default=50, help="1.3B job steps")
    parser.add_argument("--big-steps", type=int, default=4, help="14B steps (per-step ratios)")
    parser.add_argument("--offload-steps", type=int, default=25)
    parser.add_argument("--fp8-steps", type=int, default=20,
                        help="fp8 job steps (run last: its compile is long)")
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--child-restart", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The compile cache lives where a worker's would: on the models volume.
    if not os.environ.get("FRAMECRAFT_MODELS_DIR"):
        os.environ["FRAMECRAFT_MODELS_DIR"] = tempfile.mkdtemp(prefix="framecraft-speed-")
    if args.scale == "tiny":
        _shrink_catalogue()
    if args.child_restart:
        child_restart(args)
        return
    parts = {p for p in args.parts.split(",") if p}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if torch.cuda.is_available():
        say(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    say(f"models volume (compile cache): {os.environ['FRAMECRAFT_MODELS_DIR']}")
    bench = Bench(args)
    if parts - {"big", "fp8"}:
        bench.small(parts)
    if "big" in parts:
        bench.big(parts)
    if "fp8" in parts:
        bench.part("fp8", bench.fp8)
    say("done")


if __name__ == "__main__":
    main()
