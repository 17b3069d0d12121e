"""GPU benchmark: the issue-20 presets (LTX-2 19B, Wan 2.2 A14B T2V, HunyuanVideo 1.5 480p T2V)
on one card, full-size architectures with random bf16 weights built on the GPU by the family
builders (text encoders included). Per preset, in one process:

1. plain diffusers, all on the GPU, eager: the pipeline called as a user's script calls it;
2. the worker's runner (run_generation) on the same pipeline, all on the GPU, eager
   (FRAMECRAFT_COMPILE=0: Quality's compile is not what the 1.05x target is about);
3. the runner under the preset's low-VRAM plan (LTX-2 and HunyuanVideo 1.5: leaf-level group
   offload on CUDA streams, what an eager worker plans on a 24 GB card; A14B: expert offload,
   one expert on the GPU), applied to the same weights;
4. LTX-2 only, with --whole-steps: the whole job of a 5 s clip with sound (runner, all on the
   GPU, then the MP4 with its AAC track).

    python bench/new_presets.py --preset ltx-2 --steps 3 --whole-steps 40
    python bench/new_presets.py --preset wan2.2-t2v-a14b --steps 4
    python bench/new_presets.py --preset hunyuanvideo1.5-t2v-480p --steps 3
    python bench/new_presets.py --preset ltx-2 --scale tiny --device cpu --steps 2  # dry run

Step times are read at each step's end after a device sync (the runner's step callback; plain
diffusers' `callback_on_step_end`, or HunyuanVideo 1.5's scheduler step, which has none), the
first step timed from the denoiser's first forward. A one-step warm-up without decode comes
first on each placement. Every figure is a JSON line printed as soon as it is known, so a run
cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FRAMECRAFT_COMPILE", "0")  # eager, like the plain call beside it

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.cuda_clock import measured_peak_gb, reset_memory, sync  # noqa: E402
from worker import catalogue  # noqa: E402
from worker.catalogue import (  # noqa: E402
    GenerationRequest,
    StepInfo,
    build_pipeline,
    get_preset,
)
from worker.runtime.cache import LoadedPipeline, PipelineCache  # noqa: E402
from worker.runtime.encode import encode_mp4  # noqa: E402
from worker.runtime.experts import swap_of  # noqa: E402
from worker.runtime.memory import (  # noqa: E402
    MemoryProfile,
    Plan,
    apply_plan,
    needs_for_job,
    peak_gb,
)
from worker.runtime.runner import run_generation  # noqa: E402

P = MemoryProfile
PROMPT = "a brass band plays on a wooden pier at dusk, gulls calling, waves below"
NEGATIVE = "blurry, low quality, distorted"
# Per preset: the benchmark size (W, H, F), whether the all-on-GPU runs decode in tiles (the
# weights leave an 80 GB card too little for an untiled decode), and the low-VRAM plan.
SETUPS: dict[str, dict[str, Any]] = {
    "ltx-2": {"size": (768, 512, 121), "tiled": True,
              "low": (P.GROUP_LEAF, True)},
    "wan2.2-t2v-a14b": {"size": (832, 480, 81), "tiled": True,
                        "low": (P.EXPERT_OFFLOAD, True)},
    # Untiled, its decode ran out of memory on an H100 (2026-12-07: 11.7 GiB more asked with
    # 61 GiB in use), though the preset predicts a 52 GB peak.
    "hunyuanvideo1.5-t2v-480p": {"size": (848, 480, 121), "tiled": True,
                                 "low": (P.GROUP_LEAF, True)},
}
FIGURES: dict[str, Any] = {}


def note(**figures: Any) -> None:
    FIGURES.update(figures)
    print(json.dumps(figures), flush=True)


class StepClock:
    """Stamps the denoiser's first forward and the end of every step (after a sync)."""

    def __init__(self, pipeline: Any) -> None:
        self.first: float | None = None
        self.ends: list[float] = []
        self.hooks = [module.register_forward_pre_hook(self._start)
                      for name in ("transformer", "transformer_2")
                      if isinstance(module := getattr(pipeline, name, None), torch.nn.Module)]

    def _start(self, module: Any, args: Any) -> None:
        if self.first is None:
            sync()
            self.first = time.perf_counter()

    def step_end(self) -> None:
        sync()
        self.ends.append(time.perf_counter())

    def close(self) -> list[float]:
        for hook in self.hooks:
            hook.remove()
        if self.first is None or not self.ends:
            return []
        return [float(s) for s in np.diff([self.first, *self.ends])]


def summary(prefix: str, steps: list[float], job_s: float, peak: float) -> dict[str, Any]:
    return {f"{prefix}_step_s": round(float(np.mean(steps)), 3) if steps else None,
            f"{prefix}_step_median_s": round(float(np.median(steps)), 3) if steps else None,
            f"{prefix}_steps_s": [round(s, 3) for s in steps],
            f"{prefix}_job_s": round(job_s, 2), f"{prefix}_peak_gib": round(peak, 2)}


def make_request(preset_id: str, size: tuple[int, int, int], steps: int) -> GenerationRequest:
    preset = get_preset(preset_id)
    width, height, frames = size
    return GenerationRequest(
        preset_id=preset_id, prompt=PROMPT, negative_prompt=NEGATIVE, width=width,
        height=height, num_frames=frames, steps=steps, guidance=preset.default_guidance, seed=1)


def runner_job(cache: PipelineCache, pipeline: Any, request: GenerationRequest,
               decode: bool = True) -> tuple[Any, list[float], float, float]:
    clock = StepClock(pipeline)

    def on_step(info: StepInfo) -> None:
        clock.step_end()

    reset_memory()
    sync()
    started = time.perf_counter()
    result = run_generation(request, on_step, cache, decode=decode)
    sync()
    return result, clock.close(), time.perf_counter() - started, measured_peak_gb()


def plain_job(pipeline: Any, request: GenerationRequest, decode: bool = True
              ) -> tuple[np.ndarray | None, list[float], float, float]:
    """The same job as a diffusers script writes it (the arguments its __call__ takes)."""
    preset = get_preset(request.preset_id)
    accepted = inspect.signature(type(pipeline).__call__).parameters
    kwargs: dict[str, Any] = {
        "prompt": request.prompt, "negative_prompt": request.negative_prompt,
        "height": request.height, "width": request.width, "num_frames": request.num_frames,
        "num_inference_steps": request.steps, "guidance_scale": request.guidance,
        "frame_rate": float(preset.fps), **preset.call_defaults,
        "generator": torch.Generator("cpu").manual_seed(request.seed),
        "output_type": "pt" if decode else "latent",
    }
    kwargs = {name: value for name, value in kwargs.items() if name in accepted}
    clock = StepClock(pipeline)
    restore: Callable[[], None] | None = None
    if "callback_on_step_end" in accepted:
        def on_step_end(pipe: Any, index: int, timestep: Any, tensors: dict) -> dict:
            clock.step_end()
            return {}
        kwargs["callback_on_step_end"] = on_step_end
    else:  # HunyuanVideo 1.5: no step callback; its guider holds the preset's guidance
        scheduler = pipeline.scheduler
        step = scheduler.step

        def stamped(*args: Any, **kw: Any) -> Any:
            out = step(*args, **kw)
            clock.step_end()
            return out

        scheduler.step = stamped

        def restore() -> None:
            del scheduler.step
    reset_memory()
    sync()
    started = time.perf_counter()
    try:
        output = pipeline(**kwargs)
        frames = None
        if decode:
            video = output.frames[0]
            frames = video.permute(0, 2, 3, 1).float().mul(255).round().to(torch.uint8)
            frames = frames.cpu().numpy()
            if getattr(output, "audio", None) is not None:
                output.audio[0].float().cpu().numpy()
        del output
        sync()
    finally:
        if restore is not None:
            restore()
    return frames, clock.close(), time.perf_counter() - started, measured_peak_gb()


def predicted(preset_id: str, size: tuple[int, int, int], profile: MemoryProfile,
              tiled: bool) -> float:
    needs = needs_for_job(get_preset(preset_id), *size)
    return round(peak_gb(profile, needs, vae_tiling=tiled, fp8=False), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(SETUPS), required=True)
    parser.add_argument("--scale", choices=("tiny", "full"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=3, help="timed steps a job")
    parser.add_argument("--whole-steps", type=int, default=0,
                        help="LTX-2: the whole 5 s job at this many steps (0: none)")
    parser.add_argument("--parts", default="plain,gpu,low,whole",
                        help="which of plain, gpu, low, whole to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    preset_id = args.preset
    setup = SETUPS[preset_id]
    preset = get_preset(preset_id)
    size: tuple[int, int, int] = setup["size"]
    if args.scale == "tiny":  # a dry run: a toy build at a toy size
        size = (64, 64, preset.min_frames + preset.frame_step)
        catalogue.CATALOGUE[preset_id] = dataclasses.replace(
            preset, sizes=(size[:2],), default_width=size[0], default_height=size[1])
    tiled = bool(setup["tiled"])
    note(preset=preset_id, size="{}x{}x{}".format(*size), steps=args.steps,
         gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
         gpu_total_gib=round(torch.cuda.mem_get_info(device)[1] / 2**30, 1)
         if device.type == "cuda" else None,
         torch=torch.__version__, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))

    started = time.perf_counter()
    pipeline = build_pipeline(preset_id, args.scale, seed=0, device=device, dtype=dtype)
    sync()
    note(build_s=round(time.perf_counter() - started, 1),
         weights_gib=round(torch.cuda.memory_allocated(device) / 2**30, 2)
         if device.type == "cuda" else None,
         predicted_gpu_peak_gib=predicted(preset_id, size, P.GPU, tiled))
    if tiled:
        pipeline.vae.enable_tiling()
    cache = PipelineCache(loader=lambda _: LoadedPipeline(pipeline, str(device), P.GPU))
    request = make_request(preset_id, size, args.steps)
    warm = dataclasses.replace(request, steps=1)

    # Kernel choice and lazy CUDA set-up happen in a process's first job.
    plain_job(pipeline, warm, decode=False)
    runner_frames = None
    if "gpu" in parts:
        result, steps, job_s, peak = runner_job(cache, pipeline, request)
        runner_frames = result.frames
        note(**summary("gpu", steps, job_s, peak), gpu_denoise_s=round(
            result.timings["denoise_s"], 2), gpu_decode_s=round(result.timings["decode_s"], 2),
            gpu_encode_s=round(result.timings["encode_s"], 2))
        if result.audio is not None:
            note(audio=f"{result.audio.sample_rate} Hz, {result.audio.duration_s:.3f} s",
                 video_s=round(size[2] / preset.fps, 3))
        del result
    if "plain" in parts:
        frames, steps, job_s, peak = plain_job(pipeline, request)
        note(**summary("plain", steps, job_s, peak))
        if runner_frames is not None and frames is not None:
            diff = np.abs(runner_frames.astype(np.int16) - frames.astype(np.int16))
            note(frames_vs_plain_max=int(diff.max()), frames_vs_plain_mean=round(
                float(diff.mean()), 3))
        if FIGURES.get("gpu_step_s") and FIGURES.get("plain_step_s"):
            note(gpu_vs_plain_step=round(FIGURES["gpu_step_s"] / FIGURES["plain_step_s"], 3),
                 gpu_vs_plain_job=round(FIGURES["gpu_job_s"] / FIGURES["plain_job_s"], 3))
    del runner_frames

    if "whole" in parts and args.whole_steps and preset.makes_sound:
        whole = dataclasses.replace(request, steps=args.whole_steps)
        begun = time.perf_counter()
        result, steps, job_s, peak = runner_job(cache, pipeline, whole)
        with tempfile.TemporaryDirectory() as tmp:
            encoded = time.perf_counter()
            info = encode_mp4(result.frames, result.fps, Path(tmp) / "clip.mp4", {},
                              audio=result.audio)
            encode_s = time.perf_counter() - encoded
        note(whole_steps=args.whole_steps, whole_runner_s=round(job_s, 1),
             whole_job_s=round(time.perf_counter() - begun, 1),
             whole_text_s=round(result.timings["encode_s"], 2),
             whole_denoise_s=round(result.timings["denoise_s"], 1),
             whole_decode_s=round(result.timings["decode_s"], 2),
             whole_step_s=round(float(np.mean(steps)), 3), whole_peak_gib=round(peak, 2),
             mp4_s=round(encode_s, 2),
             file_audio=f"{info.audio_codec} {info.sample_rate} Hz, "
                        f"{info.audio_duration_s:.3f} s",
             file_video_s=round(info.duration_s, 3))
        del result

    if "low" in parts:
        profile, low_tiled = setup["low"]
        if device.type != "cuda" and profile != P.EXPERT_OFFLOAD:
            note(low="skipped: group offload's CUDA streams need a GPU")
        else:
            if not tiled and low_tiled:
                pipeline.vae.enable_tiling()
            plan = Plan(profile=profile, vae_tiling=low_tiled, fp8=False,
                        peak_gb=predicted(preset_id, size, profile, low_tiled), estimated_s=0)
            placed = time.perf_counter()
            # On the weights as they are (on the GPU): offload keeps pinned host copies and
            # frees the GPU's, so host memory holds one copy of the model, not two.
            apply_plan(pipeline, plan, device, exclude_leaf=("image_encoder",))
            sync()
            reset_memory()
            note(low_plan=plan.describe().split(":")[0],
                 low_place_s=round(time.perf_counter() - placed, 1),
                 low_resident_gib=round(torch.cuda.memory_allocated(device) / 2**30, 2)
                 if device.type == "cuda" else None, low_predicted_peak_gib=plan.peak_gb)
            low_cache = PipelineCache(
                loader=lambda _: LoadedPipeline(pipeline, str(device), str(profile), plan=plan))
            swap = swap_of(pipeline)
            brings: list[float] = []
            if swap is not None:  # time each expert copy on its own
                bring = swap.bring

                def timed_bring(expert: torch.nn.Module) -> None:
                    sync()
                    began = time.perf_counter()
                    bring(expert)
                    sync()
                    brings.append(time.perf_counter() - began)

                swap.bring = timed_bring  # type: ignore[method-assign]
            runner_job(low_cache, pipeline, warm, decode=False)
            brings.clear()
            swaps_before = swap.swaps if swap is not None else 0
            result, steps, job_s, peak = runner_job(low_cache, pipeline, request)
            note(**summary("low", steps, job_s, peak),
                 low_denoise_s=round(result.timings["denoise_s"], 2),
                 low_decode_s=round(result.timings["decode_s"], 2),
                 low_encode_s=round(result.timings["encode_s"], 2))
            if swap is not None:
                note(low_swaps=swap.swaps - swaps_before,
                     low_swap_s=[round(s, 2) for s in brings])
            if FIGURES.get("gpu_step_s") and FIGURES.get("low_step_s"):
                note(low_vs_gpu_step=round(FIGURES["low_step_s"] / FIGURES["gpu_step_s"], 3),
                     low_vs_gpu_job=round(FIGURES["low_job_s"] / FIGURES["gpu_job_s"], 3))
    print(json.dumps({"all": FIGURES}), flush=True)


if __name__ == "__main__":
    main()
