"""Which group-offload options keep a streamed transformer closest to all-on-GPU speed.

Times Wan 2.1 1.3B transformer forwards at 832x480x81 (full size, random bf16 weights) all on
the GPU and under leaf-level group offload with CUDA streams, with and without non-blocking
copies and `record_stream`, and prints seconds per forward and peak memory for each.

    python bench/offload_options.py [--forwards 6]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers.hooks import apply_group_offloading  # noqa: E402

from worker.catalogue import build_pipeline  # noqa: E402

VARIANTS = {
    "all on GPU": None,
    "leaf, streams (blocking copies)": {"non_blocking": False, "record_stream": False},
    "leaf, streams, non-blocking": {"non_blocking": True, "record_stream": False},
    "leaf, streams, non-blocking, record_stream": {"non_blocking": True, "record_stream": True},
}


def _transformer() -> torch.nn.Module:
    pipeline = build_pipeline("wan2.1-t2v-1.3b", "full", device="cuda", dtype=torch.bfloat16)
    transformer = pipeline.transformer.to("cpu")
    del pipeline
    torch.cuda.empty_cache()
    return transformer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forwards", type=int, default=6)
    args = parser.parse_args()
    latents = torch.randn(1, 16, 21, 60, 104, device="cuda", dtype=torch.bfloat16)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    timestep = torch.tensor([500], device="cuda")
    results = {}
    for label, options in VARIANTS.items():
        transformer = _transformer()
        if options is None:
            transformer.to("cuda")
        else:
            apply_group_offloading(transformer, onload_device=torch.device("cuda"),
                                   offload_type="leaf_level", use_stream=True, **options)
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            for _ in range(2):  # warm-up: kernel choice, pinned buffers
                transformer(latents, timestep, text, return_dict=False)
            torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(args.forwards):
                transformer(latents, timestep, text, return_dict=False)
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / args.forwards
        results[label] = (seconds, torch.cuda.max_memory_allocated() / 2**30)
        print(f"{label:45s} {seconds:6.3f} s/forward  peak {results[label][1]:5.1f} GB",
              flush=True)
        del transformer
        torch.cuda.empty_cache()
    base = results["all on GPU"][0]
    for label, (seconds, _) in results.items():
        print(f"{label:45s} {seconds / base:6.3f}× all on GPU")


if __name__ == "__main__":
    main()
