"""Memory profiles: how a pipeline is placed on a GPU, chosen as the fastest that fits.

`choose_plan` is a pure function of the GPU's memory and the preset's declared needs
(catalogue.MemoryNeeds), so it is tested as a table; `apply_plan` puts a loaded pipeline into
the chosen profile with diffusers' own offloading APIs. Workers may override the choice with
FRAMECRAFT_MEMORY_PROFILE, opt into fp8 weight storage with FRAMECRAFT_FP8=1, and force VAE
tiling with FRAMECRAFT_VAE_TILING=1 (or forbid it with 0).

Nothing here touches CUDA at import time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from worker.catalogue import MemoryNeeds, Preset
from worker.catalogue.speed import QUALITY_FACTOR

from .experts import expert_offload
from .offload_compile import install_switches

logger = logging.getLogger("framecraft.worker")

PROFILE_ENV = "FRAMECRAFT_MEMORY_PROFILE"
FP8_ENV = "FRAMECRAFT_FP8"
TILING_ENV = "FRAMECRAFT_VAE_TILING"
COMPILE_ENV = "FRAMECRAFT_COMPILE"  # 1, 0 or auto (compile on CUDA)

# Host-to-device copy rates, GB/s: pinned buffers on their own CUDA stream (group offload)
# and the pageable copies accelerate's hooks make (model and sequential offload).
PINNED_GBPS = 20.0
PAGEABLE_GBPS = 8.0
# Per-step slowdowns measured on an H200 for Wan 2.1 14B at 832×480×81 with non-blocking,
# recorded copies (docs/performance.md): leaf + streams 6.65 s, block(1) + streams 6.87 s,
# all on GPU 6.64 s.
LEAF_FACTOR = 6.65 / 6.64
BLOCK_FACTOR = 6.87 / 6.64
FP8_FACTOR = 1.05  # upcasting every weight each forward
# Tiled decode of 81 frames at 832×480 took 5.3 s against 2.8 s (DESIGN.md): 2.5 s per 9.3 GB.
TILING_S_PER_GB = 2.5 / 9.3
# The CUDA context, cuBLAS/cuDNN workspaces and allocator fragmentation.
HEADROOM_GB = 1.0
HEADROOM_FRACTION = 0.05
# Group offload with streams holds the layer in use and the one being prefetched: at leaf
# level at most two of a 14B's FFN projections (0.13 GiB each), and the loose parameters.
LEAF_IN_FLIGHT_GB = 0.3
# At block level: the block in use, the one prefetched and the one being released. Measured
# for Wan 2.1 14B: 1.75 GiB above leaf level, 2.6 of its 0.67 GiB blocks.
BLOCKS_IN_FLIGHT = 3
# A whole text encoder on the GPU also holds the encoding's working memory: measured 0.3 GiB
# for UMT5-XXL (10.6 GiB) under model offload.
ENCODING_FACTOR = 1.05


class MemoryProfile(StrEnum):
    """How a pipeline is placed; reported with each result. Fastest first, roughly."""

    CPU = "cpu"
    GPU = "gpu"
    # Two-expert denoisers (Wan 2.2 A14B): everything resident but the expert not running,
    # which waits in pinned host memory and is copied in at the boundary (runtime/experts.py).
    EXPERT_OFFLOAD = "expert_offload"
    MODEL_OFFLOAD = "model_offload"
    GROUP_LEAF = "group_offload_leaf"
    GROUP_BLOCK = "group_offload_block"
    SEQUENTIAL = "sequential_offload"


GPU_PROFILES = (
    MemoryProfile.GPU,
    MemoryProfile.EXPERT_OFFLOAD,
    MemoryProfile.MODEL_OFFLOAD,
    MemoryProfile.GROUP_LEAF,
    MemoryProfile.GROUP_BLOCK,
    MemoryProfile.SEQUENTIAL,
)
# Where Quality compiles the denoiser's blocks (leaf-level hooks sit inside them, and
# sequential offload waits on copies, not compute).
COMPILED_PROFILES = (MemoryProfile.GPU, MemoryProfile.EXPERT_OFFLOAD, MemoryProfile.MODEL_OFFLOAD,
                     MemoryProfile.GROUP_BLOCK)
# An expert swap per job and per boundary: the expert that ran last is resident when the next
# job begins with the other.
EXPERT_SWAPS_PER_JOB = 2


@dataclass(frozen=True)
class GpuMemory:
    """A GPU's memory in GiB: what it has, and what is free for this pipeline."""

    total_gb: float
    free_gb: float


@dataclass(frozen=True)
class Plan:
    """A chosen placement with its predicted peak memory and job time."""

    profile: MemoryProfile
    vae_tiling: bool
    fp8: bool
    peak_gb: float
    estimated_s: float

    def describe(self) -> str:
        extras = [name for name, on in (("vae tiling", self.vae_tiling), ("fp8", self.fp8)) if on]
        extra = f" + {', '.join(extras)}" if extras else ""
        return (
            f"{self.profile}{extra}: peak ≈ {self.peak_gb:.1f} GB, "
            f"job ≈ {self.estimated_s:.0f} s"
        )


def peak_gb(
    profile: MemoryProfile, needs: MemoryNeeds, *, vae_tiling: bool, fp8: bool
) -> float:
    """Predicted peak GPU memory of one job at the size `needs` describes.

    A job encodes the prompt, denoises, then decodes; the peak is the largest of those stages,
    each with what the profile keeps resident through it. Calibrated against the measured
    peaks in docs/performance.json (tests/worker_runtime/test_runtime_memory_calibration.py).
    """
    transformer = needs.transformer_gb * (0.5 if fp8 else 1.0)
    expert = needs.expert_gb * (0.5 if fp8 else 1.0)
    block = needs.block_gb * (0.5 if fp8 else 1.0)
    decode = needs.tiled_decode_gb if vae_tiling else needs.decode_gb
    if profile in (MemoryProfile.GPU, MemoryProfile.EXPERT_OFFLOAD):
        held = expert if profile == MemoryProfile.EXPERT_OFFLOAD else transformer
        weights = held + needs.text_encoder_gb + needs.image_encoder_gb + needs.other_gb
        return weights + max(needs.activation_gb, decode)
    if profile == MemoryProfile.MODEL_OFFLOAD:
        # One component at a time: the encoders, then each expert, then the VAE.
        return max(
            max(needs.text_encoder_gb, needs.image_encoder_gb) * ENCODING_FACTOR,
            expert + needs.activation_gb,
            needs.other_gb + decode,
        )
    # Below, the encoders stream in layer by layer; their largest layer (the token embedding)
    # is onloaded whole.
    if profile == MemoryProfile.GROUP_BLOCK:
        # The VAE stays resident (apply_plan).
        return needs.other_gb + max(
            BLOCKS_IN_FLIGHT * block + needs.activation_gb, decode, needs.encoder_leaf_gb
        )
    if profile == MemoryProfile.GROUP_LEAF:
        return needs.other_gb + max(
            needs.activation_gb + LEAF_IN_FLIGHT_GB, decode, needs.encoder_leaf_gb
        )
    # Sequential offload keeps a few layers resident at a time, the VAE's too.
    return max(needs.activation_gb + LEAF_IN_FLIGHT_GB, decode, needs.encoder_leaf_gb)


def estimated_s(
    profile: MemoryProfile, needs: MemoryNeeds, steps: int, *, vae_tiling: bool, fp8: bool,
    compiled: bool = False,
) -> float:
    """Predicted time of one job: per-step compute and copies, plus per-job copies. `compiled`
    says the worker compiles Quality's blocks where the profile lets it."""
    step = needs.step_s * (FP8_FACTOR if fp8 else 1.0)
    if compiled and profile in COMPILED_PROFILES:
        step *= QUALITY_FACTOR
    transformer = needs.transformer_gb * (0.5 if fp8 else 1.0)
    expert = needs.expert_gb * (0.5 if fp8 else 1.0)
    weights = transformer + needs.text_encoder_gb + needs.image_encoder_gb + needs.other_gb
    # Two forwards a step (CFG), each streaming the weights of the expert that runs once.
    streamed = 2 * expert / PINNED_GBPS
    if profile == MemoryProfile.GPU:
        total = steps * step
    elif profile == MemoryProfile.EXPERT_OFFLOAD:
        total = steps * step + EXPERT_SWAPS_PER_JOB * expert / PINNED_GBPS
    elif profile == MemoryProfile.MODEL_OFFLOAD:
        total = steps * step + 2 * weights / PAGEABLE_GBPS
    elif profile == MemoryProfile.GROUP_LEAF:
        total = steps * max(step * LEAF_FACTOR, streamed) + weights / PINNED_GBPS
    elif profile == MemoryProfile.GROUP_BLOCK:
        total = steps * max(step * BLOCK_FACTOR, streamed) + weights / PINNED_GBPS
    else:  # sequential: every layer copied when it is needed, nothing overlapped
        total = steps * (step + 2 * expert / PAGEABLE_GBPS) + weights / PAGEABLE_GBPS
    if vae_tiling:
        total += TILING_S_PER_GB * needs.decode_gb
    return total


def usable_gb(gpu: GpuMemory) -> float:
    return gpu.free_gb - HEADROOM_GB - HEADROOM_FRACTION * gpu.total_gb


def choose_plan(
    needs: MemoryNeeds,
    gpu: GpuMemory,
    *,
    steps: int = 50,
    fp8: bool = False,
    vae_tiling: bool | None = None,
    profile: MemoryProfile | None = None,
    compiled: bool = False,
) -> Plan:
    """The fastest placement whose predicted peak fits the GPU's usable memory.

    `vae_tiling` None means "tile only where an untiled decode would not fit"; `profile`
    forces a profile (tiling is still chosen for it). `compiled` (a CUDA worker that compiles)
    favours block-level over leaf-level offload, whose blocks cannot be compiled. Where nothing
    fits, the plan with the
    smallest peak is returned: the job may still run, or fail with out_of_memory.
    """
    budget = usable_gb(gpu)
    profiles: tuple[MemoryProfile, ...] = (profile,) if profile is not None else GPU_PROFILES
    if needs.experts < 2:
        # One denoiser: nothing to take turns (a forced expert_offload is the GPU plan).
        profiles = tuple(dict.fromkeys(
            MemoryProfile.GPU if p == MemoryProfile.EXPERT_OFFLOAD else p for p in profiles))
    tilings = (False, True) if vae_tiling is None else (vae_tiling,)
    plans = [
        Plan(
            profile=candidate,
            vae_tiling=tiled,
            fp8=fp8,
            peak_gb=peak_gb(candidate, needs, vae_tiling=tiled, fp8=fp8),
            estimated_s=estimated_s(candidate, needs, steps, vae_tiling=tiled, fp8=fp8,
                                    compiled=compiled),
        )
        for candidate in profiles
        for tiled in tilings
    ]
    fitting = [plan for plan in plans if plan.peak_gb <= budget]
    if fitting:
        return min(fitting, key=lambda plan: (plan.estimated_s, plan.peak_gb))
    return min(plans, key=lambda plan: (plan.peak_gb, plan.estimated_s))


def _flag(name: str) -> bool | None:
    """An on/off environment variable; None when unset or `auto`."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1, 0 or auto, not {raw!r}")


def profile_override() -> MemoryProfile | None:
    """FRAMECRAFT_MEMORY_PROFILE, strictly parsed; None for `auto` or unset."""
    raw = os.environ.get(PROFILE_ENV, "").strip().lower()
    if raw in ("", "auto"):
        return None
    try:
        chosen = MemoryProfile(raw)
    except ValueError:
        names = ", ".join(["auto", *GPU_PROFILES])
        raise ValueError(f"{PROFILE_ENV} must be one of {names}, not {raw!r}") from None
    if chosen == MemoryProfile.CPU:
        raise ValueError(f"{PROFILE_ENV}=cpu: set FRAMECRAFT_DEVICE=cpu to run on the CPU")
    return chosen


def plan_for(preset: Preset, gpu: GpuMemory) -> Plan:
    """The plan for a preset on this worker, with the operator's overrides applied."""
    return choose_plan(
        preset.memory,
        gpu,
        steps=preset.default_steps,
        fp8=bool(_flag(FP8_ENV)),
        vae_tiling=_flag(TILING_ENV),
        profile=profile_override(),
        compiled=_flag(COMPILE_ENV) is not False,
    )


def needs_for_job(preset: Preset, width: int, height: int, frames: int) -> MemoryNeeds:
    """A preset's needs for one job's size. Plans are made for the default size; the denoiser's
    tokens and the decode grow with the frame area and, past the default length, with the frame
    count (taken as linear in both, which over-states a longer decode a little: its per-chunk
    part does not grow with length)."""
    needs = preset.memory_at(width, height)
    length = max(1.0, frames / preset.default_frames)
    return replace(needs, activation_gb=needs.activation_gb * length,
                   decode_gb=needs.decode_gb * length,
                   tiled_decode_gb=needs.tiled_decode_gb * length)


def job_needs_tiling(plan: Plan, needs: MemoryNeeds, gpu: GpuMemory) -> bool:
    """Whether a job under `plan` must decode in tiles: its plan says so, or the untiled decode
    of this job's size is predicted not to fit where the default size did."""
    if plan.vae_tiling:
        return True
    return peak_gb(plan.profile, needs, vae_tiling=False, fp8=plan.fp8) > usable_gb(gpu)


def gpu_memory(device: Any) -> GpuMemory:
    """Total and free memory of a CUDA device, in GiB."""
    import torch

    free, total = torch.cuda.mem_get_info(device)
    return GpuMemory(total_gb=total / 2**30, free_gb=free / 2**30)


def apply_plan(
    pipeline: Any, plan: Plan, device: Any, *, exclude_leaf: tuple[str, ...] = ()
) -> None:
    """Place a freshly loaded (CPU-resident) pipeline as the plan says.

    `exclude_leaf` names components that leaf-level hooks cannot follow (SigLIP's pooling
    head calls its weights directly): they get block-level offload instead.
    """
    import torch

    if plan.fp8:
        # Before any offload hook, so offloaded copies are stored in fp8 too.
        transformer = getattr(pipeline, "transformer", None)
        if transformer is not None and hasattr(transformer, "enable_layerwise_casting"):
            transformer.enable_layerwise_casting(
                storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16
            )
    if plan.profile == MemoryProfile.GPU:
        pipeline.to(device)
    elif plan.profile == MemoryProfile.EXPERT_OFFLOAD:
        expert_offload(pipeline, device)
    elif plan.profile == MemoryProfile.MODEL_OFFLOAD:
        pipeline.enable_model_cpu_offload(device=device)
    elif plan.profile in (MemoryProfile.GROUP_LEAF, MemoryProfile.GROUP_BLOCK):
        # Block level only where blocks are big (the denoiser): on a text encoder it streams
        # badly (UMT5-XXL encoding took 12 s against 0.6 s at leaf level on an H200).
        # The VAE stays resident: it is small, and a tiled decode runs it once per tile, which
        # through offload hooks cost 10 s more per job on an H200 than the weights are worth.
        leaf = plan.profile == MemoryProfile.GROUP_LEAF
        for name, component in _modules(pipeline).items():
            if name == "vae":
                component.to(device)
                continue
            denoiser = name.startswith("transformer")
            as_leaf = (leaf or not denoiser) and name not in exclude_leaf
            if denoiser and not as_leaf:
                # Beneath the hooks, so Quality can compile the blocks without them.
                install_switches(component)
            _group_offload(component, device, leaf=as_leaf)
    elif plan.profile == MemoryProfile.SEQUENTIAL:
        pipeline.enable_sequential_cpu_offload(device=device)
    if plan.vae_tiling and hasattr(getattr(pipeline, "vae", None), "enable_tiling"):
        pipeline.vae.enable_tiling()


def _group_offload(component: Any, device: Any, *, leaf: bool) -> None:
    from diffusers.hooks import apply_group_offloading

    options: dict[str, Any] = {
        "onload_device": device,
        "offload_device": "cpu",
        "offload_type": "leaf_level" if leaf else "block_level",
        "use_stream": True,
        # Without these, every copy waits for the previous one on the CPU, so kernels are
        # launched late: on an H200, leaf-level Wan 1.3B forwards took 1.067x the all-on-GPU
        # time, against 1.005x with both (bench/offload_options.py).
        "non_blocking": True,
        "record_stream": True,
    }
    if not leaf:
        options["num_blocks_per_group"] = 1
    if hasattr(component, "enable_group_offload"):
        component.enable_group_offload(**options)
    else:
        apply_group_offloading(module=component, **options)


def _modules(pipeline: Any) -> dict[str, Any]:
    import torch

    return {
        name: component
        for name, component in pipeline.components.items()
        if isinstance(component, torch.nn.Module)
    }


@dataclass(frozen=True)
class Footprint:
    """Bytes of a loaded pipeline's weights resident on the GPU and in host memory."""

    gpu_bytes: int
    host_bytes: int


def footprint(pipeline: Any) -> Footprint:
    """Parameter and buffer bytes of every component, by where they live now."""
    gpu = host = 0
    seen: set[int] = set()
    for component in _modules(pipeline).values():
        for tensor in (*component.parameters(), *component.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            size = tensor.numel() * tensor.element_size()
            if tensor.device.type == "cuda":
                gpu += size
            else:
                host += size
    return Footprint(gpu_bytes=gpu, host_bytes=host)
