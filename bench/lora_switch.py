"""Switching LoRAs on a warm, compiled Wan 2.1 1.3B: time per switch and recompiles.

Full-size random weights from the catalogue's builder on the GPU (bf16), two rank-32 LoRAs made
here for every linear layer of the transformer's blocks, applied through the worker's runtime
(`worker.runtime.loras.apply_loras`: hot swaps into fixed adapter slots), the transformer
compiled with diffusers' `compile_repeated_blocks`. Each switch is timed from the call to a
synchronized GPU (reading the file included), then one forward at 832x480x81 checks that the
output follows the LoRA; recompiles are counted from torch._dynamo's counters (and logged with
their reasons by torch._logging). Exit status 1 when a switch takes over `--limit` seconds or
anything recompiled.

    python bench/lora_switch.py            # a few minutes on an H100 (most of it compiling)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

from worker.catalogue import build_pipeline  # noqa: E402
from worker.catalogue.lora_targets import linear_layers  # noqa: E402
from worker.catalogue.request import LoraWeights  # noqa: E402
from worker.runtime.loras import adapters_of, apply_loras, slot_rank  # noqa: E402

PRESET = "wan2.1-t2v-1.3b"


def make_lora(folder: Path, preset: str, name: str, rank: int, seed: int) -> LoraWeights:
    """A LoRA of this rank for every linear layer of the preset's blocks (diffusers naming)."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for module, (out_features, in_features) in linear_layers(preset).items():
        if module.startswith("blocks."):
            tensors[f"transformer.{module}.lora_A.weight"] = (
                torch.randn(rank, in_features, generator=generator) / in_features**0.5
            ).to(torch.bfloat16)
            tensors[f"transformer.{module}.lora_B.weight"] = (
                torch.randn(out_features, rank, generator=generator) * 0.05
            ).to(torch.bfloat16)
    path = folder / f"{name}.safetensors"
    save_file(tensors, str(path))
    return LoraWeights(path=str(path), strength=1.0, name=name, key=name)


def graphs() -> int:
    return int(counters["stats"]["unique_graphs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--switches", type=int, default=6)
    parser.add_argument("--limit", type=float, default=1.0, help="seconds a switch may take")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--smoke", action="store_true",
                        help="the tiny model on the CPU, compiled with the eager backend: "
                             "checks this script, measures nothing")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU (or --smoke)")
    torch._logging.set_logs(recompiles=True)
    device = torch.device("cpu" if args.smoke else "cuda")
    preset = "tiny" if args.smoke else PRESET
    dtype = torch.float32 if args.smoke else torch.bfloat16
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    started = time.perf_counter()
    pipeline = build_pipeline(preset, "tiny" if args.smoke else "full", device=device,
                              dtype=dtype)
    transformer = pipeline.transformer
    built_s = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="lora-switch-"))
    first = make_lora(folder, preset, "first", args.rank, seed=1)
    second = make_lora(folder, preset, "second", args.rank, seed=2)
    megabytes = (folder / "first.safetensors").stat().st_size / 2**20

    # 832x480x81: 21 latent frames of 60x104, and 512 text tokens of UMT5-XXL width.
    latent_frames = (args.frames - 1) // 4 + 1
    height, width, tokens, text_dim = (8, 8, 5, 32) if args.smoke else (60, 104, 512, 4096)
    generator = torch.Generator(device).manual_seed(0)
    inputs = {
        "hidden_states": torch.randn(1, 16, 2 if args.smoke else latent_frames, height, width,
                                     device=device, dtype=dtype, generator=generator),
        "timestep": torch.tensor([500], device=device),
        "encoder_hidden_states": torch.randn(1, tokens, text_dim, device=device, dtype=dtype,
                                             generator=generator),
        "return_dict": False,
    }

    def forward() -> tuple[torch.Tensor, float]:
        synchronize()
        began = time.perf_counter()
        with torch.no_grad():
            out = transformer(**inputs)[0]
        synchronize()
        return out, time.perf_counter() - began

    base, eager_base_s = forward()
    apply_loras(pipeline, [first], preset)
    _, eager_lora_s = forward()
    transformer.compile_repeated_blocks(fullgraph=True,
                                        **({"backend": "eager"} if args.smoke else {}))
    began = time.perf_counter()
    out_first, _ = forward()
    warmup_s = time.perf_counter() - began
    out_first, compiled_lora_s = forward()
    warm_graphs = graphs()

    switches: list[float] = []
    outputs = {"first": out_first}
    drift = 0.0
    for index in range(args.switches):
        lora = second if index % 2 == 0 else first
        synchronize()
        began = time.perf_counter()
        apply_loras(pipeline, [lora], preset)
        synchronize()
        switches.append(time.perf_counter() - began)
        out, _ = forward()
        outputs.setdefault(lora.name, out)
        if lora.name == "first":  # swapped back: the same output as before
            drift = max(drift, (out.float() - out_first.float()).abs().max().item())
    recompiles = graphs() - warm_graphs

    # A strength change is a swap too (the strength rides in the up matrix).
    synchronize()
    began = time.perf_counter()
    apply_loras(pipeline, [LoraWeights(first.path, 0.5, "first", "first")], preset)
    synchronize()
    strength_s = time.perf_counter() - began
    forward()
    recompiles_with_strength = graphs() - warm_graphs

    # Off (a job without LoRAs) and on again: the adapters-off variant compiles once.
    apply_loras(pipeline, [], preset)
    off, compiled_off_s = forward()
    apply_loras(pipeline, [first], preset)
    forward()
    apply_loras(pipeline, [], preset)
    off_again, _ = forward()
    off_graphs = graphs() - warm_graphs - recompiles_with_strength

    changed = (outputs["second"].float() - outputs["first"].float()).abs().mean().item()
    figures = {
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke)",
        "torch": torch.__version__,
        "preset": preset,
        "lora_rank": args.rank,
        "slot_rank": slot_rank(),
        "lora_file_mb": round(megabytes, 1),
        "build_s": round(built_s, 1),
        "compile_warmup_s": round(warmup_s, 1),
        "forward_s": {"eager_base": round(eager_base_s, 3), "eager_lora": round(eager_lora_s, 3),
                      "compiled_lora": round(compiled_lora_s, 3),
                      "compiled_adapters_off": round(compiled_off_s, 3)},
        "switch_s": {"each": [round(s, 3) for s in switches],
                     "median": round(statistics.median(switches), 3),
                     "max": round(max(switches), 3)},
        "strength_change_s": round(strength_s, 3),
        "recompiles_on_switch": recompiles,
        "recompiles_on_strength_change": recompiles_with_strength - recompiles,
        "graphs_for_adapters_off": off_graphs,
        "output_change_between_loras": changed,
        "swap_back_max_diff": drift,
        "adapters_off_equals_base": bool(torch.equal(off, base)),
        "adapters_off_equal_twice": bool(torch.equal(off, off_again)),
        "hot_swaps": adapters_of(pipeline).swaps,
        "slot_builds": adapters_of(pipeline).rebuilds,
    }
    print(json.dumps(figures, indent=2))
    ok = (max(switches) <= args.limit and recompiles == 0
          and recompiles_with_strength == recompiles and changed > 0)
    print(f"switch median {figures['switch_s']['median']} s, max {figures['switch_s']['max']} s "
          f"(limit {args.limit} s); recompiles on switch: {recompiles}; "
          f"{'OK' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
