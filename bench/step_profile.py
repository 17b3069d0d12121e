"""Where one denoising step of Wan 2.1 T2V 1.3B goes (832x480x81, CFG: two transformer
passes), on the GPU, with random full-size weights:

1. every exact attention backend diffusers offers here, one eager forward each;
2. the two CFG passes as two calls (what diffusers' WanPipeline does) against one call of
   batch 2, eager and compiled (regional compile, as Quality does), with the difference;
3. torch.profiler over one CFG step, eager and compiled: the GPU time of GEMMs, attention and
   the rest (norms, RoPE, modulation, casts: Inductor's fused Triton kernels when compiled),
   and the top kernels.

    python bench/step_profile.py                  # about 2.5 minutes on an H100
    python bench/step_profile.py --budget 150     # skips what would end past 150 s
    python bench/step_profile.py --scale tiny --device cpu   # a dry run of the script

Every figure is a JSON line printed as soon as it is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.cuda_clock import sync  # noqa: E402
from worker.catalogue import build_pipeline, get_preset  # noqa: E402
from worker.runtime import speed  # noqa: E402

PRESET = "wan2.1-t2v-1.3b"
STARTED = time.perf_counter()


def say(**fields: Any) -> None:
    fields["t"] = round(time.perf_counter() - STARTED, 1)
    print(json.dumps(fields), flush=True)


def timed(work: Callable[[], Any], repeats: int) -> float:
    """Seconds per call after one untimed call."""
    work()
    sync()
    started = time.perf_counter()
    for _ in range(repeats):
        work()
    sync()
    return (time.perf_counter() - started) / repeats


def category(name: str) -> str:
    low = name.lower()
    if any(k in low for k in ("flash", "fmha", "attention", "sdpa", "cudnn_generated")):
        return "attention"
    if any(k in low for k in ("gemm", "nvjet", "xmma", "cutlass", "scaled_mm", "matmul",
                              "f8f8bf16")):
        return "gemm"
    if "triton" in low:
        return "fused elementwise/norm (Triton)"
    return "other (aten elementwise, norms, copies)"


def breakdown(work: Callable[[], Any]) -> dict[str, Any]:
    """GPU time per kernel category over one call of `work`."""
    from torch.profiler import ProfilerActivity, profile

    work()
    sync()
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        work()
        sync()
    kernels: dict[str, float] = {}
    for event in prof.events():
        if torch.cuda.is_available() and event.device_type != torch.autograd.DeviceType.CUDA:
            continue
        kernels[event.name] = kernels.get(event.name, 0.0) + event.device_time_total / 1e6
    total = sum(kernels.values()) or 1.0
    groups: dict[str, float] = {}
    for name, seconds in kernels.items():
        groups[category(name)] = groups.get(category(name), 0.0) + seconds
    top = sorted(kernels.items(), key=lambda kv: -kv[1])[:12]
    return {"gpu_s": round(total, 4),
            "share": {k: round(v / total, 3) for k, v in sorted(groups.items())},
            "top": [(name[:90], round(seconds, 4)) for name, seconds in top]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=170.0,
                        help="seconds: a part that would end later is skipped")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        say(gpu=torch.cuda.get_device_name(), torch=torch.__version__)
    pipeline = build_pipeline(PRESET, args.scale, device=device, dtype=dtype)
    transformer = pipeline.transformer
    del pipeline.text_encoder  # the step alone: random prompt embeddings
    config = transformer.config
    frames, height, width = (21, 60, 104) if args.scale == "full" else (2, 8, 8)
    generator = torch.Generator(device).manual_seed(0)
    latents = torch.randn((1, config.in_channels, frames, height, width), generator=generator,
                          device=device, dtype=dtype)
    text = [torch.randn((1, 512, config.text_dim), generator=generator, device=device,
                        dtype=dtype) for _ in range(2)]
    timestep = torch.tensor([999.0], device=device)
    both_latents = latents.expand(2, -1, -1, -1, -1)
    both_text = torch.cat(text)
    both_steps = timestep.expand(2)

    @torch.no_grad()
    def two_passes() -> torch.Tensor:
        cond = transformer(hidden_states=latents, timestep=timestep,
                           encoder_hidden_states=text[0], return_dict=False)[0]
        uncond = transformer(hidden_states=latents, timestep=timestep,
                             encoder_hidden_states=text[1], return_dict=False)[0]
        return torch.cat([cond, uncond])

    @torch.no_grad()
    def batched() -> torch.Tensor:
        return transformer(hidden_states=both_latents, timestep=both_steps,
                           encoder_hidden_states=both_text, return_dict=False)[0]

    @torch.no_grad()
    def one_pass() -> torch.Tensor:
        return transformer(hidden_states=latents, timestep=timestep,
                           encoder_hidden_states=text[0], return_dict=False)[0]

    def left() -> float:
        return args.budget - (time.perf_counter() - STARTED)

    # 1. attention backends, eager, one forward
    backends: dict[str, float] = {}
    for name in speed.EXACT_BACKENDS:
        try:
            transformer.set_attention_backend(name)
            backends[name] = timed(one_pass, args.repeats)
        except Exception as exc:  # a missing package or an unsupported GPU
            say(backend=name, unavailable=f"{type(exc).__name__}: {str(exc)[:160]}")
    say(part="attention backends, eager forward s", **{k: round(v, 4) for k, v in
                                                         backends.items()})
    best = min(backends, key=backends.__getitem__) if backends else "native"
    transformer.set_attention_backend(best)
    say(best_backend=best)

    # 2. CFG: two calls against one batched call, eager
    two = timed(two_passes, args.repeats)
    one = timed(batched, args.repeats)
    diff = (two_passes().float() - batched().float()).abs()
    say(part="CFG eager", two_calls_s=round(two, 4), batched_s=round(one, 4),
        batched_over_two=round(one / two, 3), max_diff=round(diff.max().item(), 5),
        mean_diff=round(diff.mean().item(), 6))

    # 3a. profile, eager
    say(part="profile eager CFG step", **breakdown(two_passes))
    if device.type != "cuda" or left() < 60:
        say(skipped="compiled parts", left_s=round(left(), 1))
        return

    # 2b and 3b. compiled (Quality's regional compile)
    problem = speed.compile_blocks(pipeline, get_preset(PRESET), None)
    if problem:
        say(compile_failed=problem)
        return
    started = time.perf_counter()
    one_pass()
    sync()
    say(compile_s=round(time.perf_counter() - started, 1))
    two_c = timed(two_passes, args.repeats)
    say(part="CFG compiled, two calls", two_calls_s=round(two_c, 4),
        over_eager=round(two_c / two, 3))
    say(part="profile compiled CFG step", **breakdown(two_passes))
    if left() < 40:
        say(skipped="compiled batched CFG", left_s=round(left(), 1))
        return
    started = time.perf_counter()
    batched()
    sync()
    say(compile_batch2_s=round(time.perf_counter() - started, 1))
    one_c = timed(batched, args.repeats)
    diff = (two_passes().float() - batched().float()).abs()
    say(part="CFG compiled", two_calls_s=round(two_c, 4), batched_s=round(one_c, 4),
        batched_over_two=round(one_c / two_c, 3), max_diff=round(diff.max().item(), 5),
        mean_diff=round(diff.mean().item(), 6))
    if best != "native" and left() > 40:
        transformer.set_attention_backend("native")
        started = time.perf_counter()
        one_pass()
        sync()
        native_c = timed(two_passes, args.repeats)
        say(part="CFG compiled with native attention", two_calls_s=round(native_c, 4),
            recompile_s=round(time.perf_counter() - started, 1),
            best_over_native=round(two_c / native_c, 3))


if __name__ == "__main__":
    main()
