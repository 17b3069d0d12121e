"""GPU benchmark: a reference-driven Wan 2.1 VACE 1.3B job (two subject photos) through the
worker's runner, next to a plain diffusers WanVACEPipeline call of the same job, in one run.

Full-size architecture with random weights (the catalogue's builder), built on the GPU in bf16
(the VAE in fp32, as the preset loads it), everything on the GPU for both. The two are run in
turn, `--repeats` times each after a warm-up of each, and the medians compared; the target is
a runner/plain ratio of at most 1.05.

    python bench/reference.py                          # 832x480x81, 4 steps, 3 repeats
    python bench/reference.py --scale tiny --device cpu --frames 5 --repeats 1   # a dry run

Prints a markdown row for docs/performance.md and the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from worker.catalogue import GenerationRequest, Task, build_pipeline, get_preset  # noqa: E402
from worker.runtime.cache import LoadedPipeline, PipelineCache  # noqa: E402
from worker.runtime.memory import MemoryProfile  # noqa: E402
from worker.runtime.runner import run_generation  # noqa: E402

PRESET = "wan2.1-vace-1.3b"
PROMPT = "the person from the photos walks along a beach at dawn, cinematic"
TARGET = 1.05


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _photos(width: int, height: int, count: int = 2) -> list[Image.Image]:
    """Subject photos as a cutout would be: a shape on white, of another shape than the video."""
    rng = np.random.default_rng(0)
    photos = []
    for _ in range(count):
        pixels = np.full((height * 3 // 4, width // 2, 3), 255, np.uint8)
        h, w = pixels.shape[:2]
        pixels[h // 6: h - h // 6, w // 4: w - w // 4] = rng.integers(0, 256, 3, np.uint8)
        photos.append(Image.fromarray(pixels))
    return photos


def _request(args: argparse.Namespace, width: int, height: int,
             photos: list[Image.Image]) -> GenerationRequest:
    preset = get_preset(PRESET)
    return GenerationRequest(
        preset_id=PRESET, task=str(Task.PERSONALIZE), prompt=PROMPT,
        negative_prompt="blurry, low quality", width=width, height=height,
        num_frames=args.frames, steps=args.steps, guidance=preset.default_guidance, seed=1,
        reference_images=tuple(photos))


def runner_job(pipeline: Any, device: torch.device, request: GenerationRequest) -> float:
    """The worker's way: the runner, its call adapter, step callback and uint8 frames."""
    profile = MemoryProfile.GPU if device.type == "cuda" else MemoryProfile.CPU
    cache = PipelineCache(loader=lambda _: LoadedPipeline(pipeline, str(device), profile))
    _sync()
    started = time.perf_counter()
    result = run_generation(request, lambda info: None, cache)
    _sync()
    assert result.frames.shape[0] == request.num_frames
    return time.perf_counter() - started


def plain_job(pipeline: Any, request: GenerationRequest) -> float:
    """A user's script: one WanVACEPipeline call with the reference images."""
    _sync()
    started = time.perf_counter()
    output = pipeline(
        prompt=request.prompt, negative_prompt=request.negative_prompt,
        reference_images=list(request.reference_images), height=request.height,
        width=request.width, num_frames=request.num_frames,
        num_inference_steps=request.steps, guidance_scale=request.guidance,
        generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np")
    _sync()
    assert len(output.frames[0]) == request.num_frames
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    preset = get_preset(PRESET)
    width, height = preset.default_width, preset.default_height  # the sizes it offers
    started = time.perf_counter()
    dtype = torch.bfloat16 if device.type == "cuda" else None
    pipeline = build_pipeline(PRESET, args.scale, device=device, dtype=dtype)
    pipeline.to(device)
    print(f"built {PRESET} ({args.scale}) in {time.perf_counter() - started:.1f} s", flush=True)
    request = _request(args, width, height, _photos(width, height))

    runner_job(pipeline, device, request)  # warm-up: kernels, allocator, cuDNN plans
    plain_job(pipeline, request)
    runner_s: list[float] = []
    plain_s: list[float] = []
    for index in range(args.repeats):
        runner_s.append(runner_job(pipeline, device, request))
        plain_s.append(plain_job(pipeline, request))
        print(f"  run {index + 1}: runner {runner_s[-1]:.2f} s, plain {plain_s[-1]:.2f} s",
              flush=True)
    runner, plain = statistics.median(runner_s), statistics.median(plain_s)
    ratio = runner / plain
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    figures = {"preset": PRESET, "scale": args.scale, "gpu": gpu,
               "size": f"{width}x{height}x{args.frames}", "steps": args.steps,
               "references": len(request.reference_images), "runner_s": round(runner, 3),
               "plain_s": round(plain, 3), "ratio": round(ratio, 3),
               "meets_target": ratio <= TARGET}
    print(f"| VACE 1.3B reference-driven job, {figures['size']}, {args.steps} steps, "
          f"{figures['references']} reference photos, {gpu}: runner / plain diffusers | "
          f"{runner:.2f} s / {plain:.2f} s ({ratio:.3f}×; target ≤ {TARGET}) |")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
