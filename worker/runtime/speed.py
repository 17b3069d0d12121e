"""Speed modes on a loaded pipeline: the attention kernel, regional compile with a cache on the
models volume, fp8 linears, and step caching with a count of the steps it skipped.

What each mode does is data in worker/catalogue/speed.py; this module applies it. Nothing here
touches CUDA at import, and everything that can be decided without a GPU is a pure function
(`compile_decision`, `shape_buckets`) so the CPU tests cover it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.catalogue import MODELS_DIR_ENV, ErrorCode, GenerationError, Preset
from worker.catalogue.speed import SpeedMode, StepCache, fp8_capable

from . import offload_compile
from .memory import COMPILE_ENV, MemoryProfile, Plan

logger = logging.getLogger("framecraft.worker")

ATTENTION_ENV = "FRAMECRAFT_ATTENTION"  # a diffusers attention backend name, or auto
SPEED_DIR = ".speed"  # in the models folder: the attention choice and compiled artefacts
# Exact kernels the micro-benchmark tries, in diffusers 0.42.1's names; a backend whose
# package or GPU support is missing is skipped.
EXACT_BACKENDS = ("native", "_native_cudnn", "_native_flash", "_native_efficient", "flash",
                  "_flash_3")
# The benchmark's attention: Wan 2.1 1.3B's heads at half its 832×480×81 sequence.
BENCH_SHAPE = (1, 16384, 12, 128)
# Outputs farther than this from native SDPA's (bf16) mean the kernel is not exact enough.
EXACT_TOLERANCE = 0.02
# Suffix of a pipeline cache key whose transformer has fp8 linears.
FP8_SUFFIX = "+fp8"
# on (the default) or off: Inductor's coordinate-descent tuning for fp8 transformers' compile.
FP8_TUNING_ENV = "FRAMECRAFT_FP8_TUNING"
# What torchao's quantize_ sets process-wide unless told not to (its
# recommended_inductor_config_setter; the int8 and kernel-name settings do not touch an fp8
# graph). Set there, it also tuned every later compile of the worker, fp8 or not, and changed
# their cache keys with the order jobs came in; here it is one option of the fp8 compile.
FP8_INDUCTOR_OPTIONS: dict[str, Any] = {
    "coordinate_descent_tuning": True,
    "coordinate_descent_check_all_directions": True,
}


@dataclass(frozen=True)
class CompileDecision:
    on: bool
    reason: str


def compile_decision(device_type: str, mode: SpeedMode, plan: Plan | None,
                     override: str | None = None) -> CompileDecision:
    """Whether a job's transformer blocks run compiled, and why (the recipe says so)."""
    wanted = (override or "auto").strip().lower()
    if wanted in ("0", "off", "false", "no"):
        return CompileDecision(False, f"{COMPILE_ENV}=0")
    if mode != SpeedMode.QUALITY:
        return CompileDecision(False, f"{mode} runs eager: its hooks sit where compile would")
    if device_type != "cuda":
        return CompileDecision(False, "on the CPU, Inductor's C++ build costs more than a job")
    if plan is not None and plan.profile == MemoryProfile.SEQUENTIAL:
        return CompileDecision(False, "sequential offload copies every layer: compute is not "
                                      "what a job waits for")
    if plan is not None and plan.profile == MemoryProfile.GROUP_LEAF:
        # Leaf-level hooks sit on every layer inside a block: no part of a block is free of
        # them to compile (offload_compile).
        return CompileDecision(False, "leaf-level offload hooks every layer inside the blocks")
    if wanted not in ("", "auto", "1", "on", "true", "yes"):
        raise ValueError(f"{COMPILE_ENV} must be 1, 0 or auto, not {wanted!r}")
    if plan is not None and plan.profile == MemoryProfile.GROUP_BLOCK:
        return CompileDecision(True, "the repeated blocks compiled beneath group offload's hooks")
    return CompileDecision(True, "regional compile of the repeated blocks")


def compile_options(fp8: bool, setting: str | None = None) -> dict[str, Any] | None:
    """Inductor options of one transformer's compile: fp8 linears compile with
    coordinate-descent tuning (as torchao sets it) unless FRAMECRAFT_FP8_TUNING is off;
    everything else with Inductor's defaults. The tuning benchmarks kernels while compiling,
    which is most of fp8's first-job time (bench/compile_restart.py measures both)."""
    wanted = (setting or "on").strip().lower()
    if wanted in ("0", "off", "false", "no"):
        return None
    if wanted not in ("", "auto", "1", "on", "true", "yes"):
        raise ValueError(f"{FP8_TUNING_ENV} must be on or off, not {wanted!r}")
    return dict(FP8_INDUCTOR_OPTIONS) if fp8 else None


def shape_buckets(preset: Preset) -> int:
    """Every input shape a preset's transformer can see: its sizes times its frame counts (the
    form and the spec accept nothing else). Compile is static (dynamic=False), so each bucket is
    compiled once and a second job of the same size reuses it; the recompile limit is raised to
    hold them all."""
    return len(preset.sizes) * len(preset.frame_choices())


def compile_cache_dir(gpu_name: str, torch_version: str) -> Path | None:
    """Where compiled artefacts of this GPU and torch live on the models volume."""
    root = os.environ.get(MODELS_DIR_ENV)
    if not root:
        return None
    tag = re.sub(r"[^A-Za-z0-9.]+", "-", f"{gpu_name}-torch{torch_version}").strip("-")
    return Path(root) / SPEED_DIR / "compile" / tag


def operator_cache_dir() -> str | None:
    """TORCHINDUCTOR_CACHE_DIR where an operator set it; None where it is unset or torch's own
    default. Importing torch._dynamo writes that default (/tmp/torchinductor_<user>) into the
    environment (cache_dir_utils.cache_dir, called by torch._dynamo.package at import), so a
    set variable alone does not mean anyone chose it: taken as a choice, it kept every worker's
    compiled artefacts in /tmp, lost with its container (issue 23)."""
    value = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if not value:
        return None
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:  # a torch without it: take the variable as set
        return value
    return None if os.path.abspath(value) == os.path.abspath(default_cache_dir()) else value


def use_compile_cache(folder: Path | None) -> None:
    """Point Inductor's FX graph cache, AOT autograd cache and Triton's kernels at `folder`, so
    a restarted worker loads what an earlier one compiled instead of compiling again. An
    operator's own TORCHINDUCTOR_CACHE_DIR wins (operator_cache_dir)."""
    import torch._functorch.config as functorch
    import torch._inductor.config as inductor

    inductor.fx_graph_cache = True
    functorch.enable_autograd_cache = True
    if folder is None or operator_cache_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only models volume: Inductor's default cache, in /tmp
        logger.warning("compile cache stays in /tmp: cannot write %s (%s)", folder, exc)
        return
    torch_default = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    # Inductor sets TRITON_CACHE_DIR beneath its own cache folder at its first kernel: that one
    # follows the move too; an operator's stays.
    triton = os.environ.get("TRITON_CACHE_DIR")
    if not triton or (torch_default and Path(triton).is_relative_to(torch_default)):
        os.environ["TRITON_CACHE_DIR"] = str(folder / "triton")


def _transformers(pipeline: Any) -> list[Any]:
    import torch

    return [module for name, module in pipeline.components.items()
            if name.startswith("transformer") and isinstance(module, torch.nn.Module)]


# --- attention ---------------------------------------------------------------------------

_CHOSEN: dict[str, str] = {}


def _attention_file() -> Path | None:
    root = os.environ.get(MODELS_DIR_ENV)
    return Path(root) / SPEED_DIR / "attention.json" if root else None


def best_attention_backend(device: Any) -> str:
    """The fastest exact attention kernel of this GPU, measured once per GPU name and torch
    version and remembered on the models volume; `native` on the CPU."""
    import torch

    forced = os.environ.get(ATTENTION_ENV, "").strip()
    if forced and forced != "auto":
        return forced
    if torch.device(device).type != "cuda":
        return "native"
    key = f"{torch.cuda.get_device_name(device)} / torch {torch.__version__}"
    if key in _CHOSEN:
        return _CHOSEN[key]
    path = _attention_file()
    known: dict[str, str] = {}
    if path is not None and path.is_file():
        try:
            known = json.loads(path.read_text())
        except (OSError, ValueError):
            known = {}
    if key not in known:
        timings = benchmark_attention(device)
        known[key] = min(timings, key=timings.__getitem__)
        logger.info("attention on %s: %s (%s)", key, known[key],
                    ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in timings.items()))
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(known, indent=2, sort_keys=True))
            except OSError as exc:  # a read-only models volume: measure again next start
                logger.warning("could not remember the attention choice in %s: %s", path, exc)
    _CHOSEN[key] = known[key]
    return known[key]


def benchmark_attention(device: Any, shape: tuple[int, int, int, int] = BENCH_SHAPE,
                        repeats: int = 5) -> dict[str, float]:
    """Seconds per call of each exact backend that runs here and matches native SDPA."""
    import torch
    from diffusers.models.attention_dispatch import attention_backend, dispatch_attention_fn

    generator = torch.Generator(device).manual_seed(0)
    q, k, v = (torch.randn(shape, device=device, dtype=torch.bfloat16, generator=generator)
               for _ in range(3))
    reference = None
    timings: dict[str, float] = {}
    for name in EXACT_BACKENDS:
        try:
            with attention_backend(name):
                out = dispatch_attention_fn(q, k, v)
                torch.cuda.synchronize(device)
                if reference is None:
                    reference = out
                elif (out.float() - reference.float()).abs().max().item() > EXACT_TOLERANCE:
                    logger.info("attention backend %s is not exact here; skipped", name)
                    continue
                start = time.perf_counter()
                for _ in range(repeats):
                    dispatch_attention_fn(q, k, v)
                torch.cuda.synchronize(device)
        except Exception as exc:  # missing package, unsupported GPU or dtype
            logger.info("attention backend %s unavailable: %s", name, exc)
            continue
        timings[name] = (time.perf_counter() - start) / repeats
    return timings or {"native": 0.0}


# --- per pipeline: attention, fp8, compile ------------------------------------------------

@dataclass
class SpeedState:
    """What was done to a loaded pipeline, kept with it in the cache."""

    attention: str = "native"
    fp8: bool = False
    compiled: bool = False
    compile_reason: str = ""
    compile_s: float = 0.0  # the first compiled job's extra time, measured by the runner
    split: bool = False  # the denoiser runs split over a process group (context parallelism)
    shapes_seen: set[tuple[int, int, int]] = field(default_factory=set)


def prepare(pipeline: Any, preset: Preset, device: Any, *, fp8: bool, split: bool = False
            ) -> SpeedState:
    """At load: the fastest exact attention for every transformer, and fp8 linears if asked.

    A denoiser split over a process group keeps diffusers' default attention and runs eager:
    the split was measured that way (docs/performance.md), and not every backend or a
    compiled block is known to work under context parallelism."""
    state = SpeedState(split=True) if split else SpeedState(
        attention=best_attention_backend(device))
    for transformer in _transformers(pipeline):
        if state.attention != "native" and hasattr(transformer, "set_attention_backend"):
            transformer.set_attention_backend(state.attention)
    if fp8:
        quantize_fp8(pipeline)
        state.fp8 = True
    return state


def fp8_error(device: Any, plan: Plan | None) -> str | None:
    """Why fp8 linears cannot run on this worker, in the user's terms; None when they can."""
    import torch

    if torch.device(device).type != "cuda":
        return "fp8 needs a GPU with fp8 (compute capability 8.9 or newer); this worker runs " \
               "on the CPU."
    capability = torch.cuda.get_device_capability(device)
    if not fp8_capable(capability):
        return (f"fp8 needs compute capability 8.9 or newer; this GPU has "
                f"{capability[0]}.{capability[1]}.")
    if plan is not None and (plan.profile != MemoryProfile.GPU or plan.fp8):
        return "fp8 runs only where the whole model fits on the GPU; this worker offloads it."
    try:
        import torchao  # noqa: F401
    except ImportError:
        return "fp8 needs torchao, which this worker does not have."
    return None


def quantize_fp8(pipeline: Any) -> None:
    """Per-row dynamic fp8 for the transformer blocks' linear layers (torchao)."""
    import torch
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        PerRow,
        quantize_,
    )

    # Not process-wide Inductor settings (compile_options scopes them to this transformer).
    config = Float8DynamicActivationFloat8WeightConfig(granularity=PerRow(),
                                                       set_inductor_config=False)

    def in_blocks(module: torch.nn.Module, name: str) -> bool:
        return isinstance(module, torch.nn.Linear) and ".blocks." in f".{name}"

    for transformer in _transformers(pipeline):
        quantize_(transformer, config, filter_fn=in_blocks)


# Presets whose shape buckets the recompile limit has room for (a reloaded pipeline reuses the
# graphs compiled for its blocks' classes).
_ROOM_MADE_FOR: set[str] = set()


def compile_blocks(pipeline: Any, preset: Preset, plan: Plan | None,
                   backend: Any = "inductor", options: dict[str, Any] | None = None
                   ) -> str | None:
    """Compile every transformer's repeated blocks, static shapes; None, or why it could not.
    (`backend` is Inductor's in a worker; the CPU tests trace with Dynamo's `eager`.)
    `options` go to the backend with this compile only (compile_options)."""
    import torch

    settings: dict[str, Any] = {"fullgraph": True, "dynamic": False, "backend": backend}
    if options:
        settings["options"] = dict(options)

    # Every compiled block class of every loaded preset shares one code object's cache (the
    # module call, or the block's forward), so each compiled pipeline adds room for its own
    # shape buckets rather than setting a limit a second preset would run out of.
    if preset.id not in _ROOM_MADE_FOR:
        _ROOM_MADE_FOR.add(preset.id)
        extra = shape_buckets(preset) + 2
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, getattr(torch._dynamo.config, name) + extra)
    beneath_hooks = plan is not None and plan.profile == MemoryProfile.GROUP_BLOCK
    for transformer in _transformers(pipeline):
        if beneath_hooks:
            found = offload_compile.switches(transformer)
            if not found:
                return f"{type(transformer).__name__} has no blocks to compile beneath its hooks"
            for switch in found:
                switch.compile(**settings)
            continue
        try:
            transformer.compile_repeated_blocks(**settings)
        except ValueError as exc:  # no `_repeated_blocks` on this class
            return str(exc)
    return None


def ensure_compiled(pipeline: Any, preset: Preset, state: SpeedState, plan: Plan | None,
                    device: Any) -> CompileDecision:
    """Quality's compile, set up once per loaded pipeline (compiling happens on first call)."""
    import torch

    # A CUDA device string without CUDA is a test's stand-in pipeline: nothing to compile.
    device_type = torch.device(device).type if torch.cuda.is_available() else "cpu"
    decision = compile_decision(device_type, SpeedMode.QUALITY, plan, os.environ.get(COMPILE_ENV))
    if state.split:
        decision = CompileDecision(False, "split over several GPUs: runs eager, as measured")
    if not decision.on or state.compiled:
        return decision if not state.compiled else CompileDecision(True, state.compile_reason)
    use_compile_cache(compile_cache_dir(torch.cuda.get_device_name(device), torch.__version__))
    options = compile_options(state.fp8, os.environ.get(FP8_TUNING_ENV))
    problem = compile_blocks(pipeline, preset, plan, options=options)
    if problem is not None:
        state.compile_reason = f"not compiled: {problem}"
        return CompileDecision(False, state.compile_reason)
    reason = decision.reason + (" (fp8: coordinate-descent tuning)" if options else "")
    state.compiled, state.compile_reason = True, reason
    return CompileDecision(True, reason)


@contextmanager
def eager_blocks(pipeline: Any) -> Iterator[None]:
    """Run compiled blocks eagerly for one job (Balanced's hooks replace their forward), then
    give them back their compiled code, untouched, for the next Quality job."""
    stashed: list[tuple[Any, Any]] = []
    switched: list[offload_compile.SwitchableForward] = []
    for transformer in _transformers(pipeline):
        for module in transformer.modules():
            compiled = getattr(module, "_compiled_call_impl", None)
            if compiled is not None:
                stashed.append((module, compiled))
                module._compiled_call_impl = None
        switched += [switch for switch in offload_compile.switches(transformer) if switch.on]
    for switch in switched:
        switch.on = False
    try:
        yield
    finally:
        for module, compiled in stashed:
            module._compiled_call_impl = compiled
        for switch in switched:
            switch.on = True


# --- Balanced: step caching ---------------------------------------------------------------

@dataclass
class SkipCount:
    """Transformer forwards in a job, and those a step cache answered without the last block."""

    forwards: int = 0
    computed: int = 0
    cached: bool = False

    @property
    def skipped(self) -> int:
        return self.forwards - self.computed


# Blocks diffusers 0.42.1's cache hooks do not know yet, and where their outputs are: the index
# of the hidden states and of the text's (HunyuanVideo 1.5's return both, as HunyuanVideo's),
# and the arguments that carry them where the block names them otherwise (Kandinsky 6's fused
# blocks take and return the video and the audio stream).
UNREGISTERED_BLOCKS: dict[str, dict[str, Any]] = {
    "HunyuanVideo15TransformerBlock": {
        "return_hidden_states_index": 0, "return_encoder_hidden_states_index": 1},
    "Kandinsky6FusedTransformerDecoderBlock": {
        "return_hidden_states_index": 0, "return_encoder_hidden_states_index": 1,
        "hidden_states_argument_name": "vis", "encoder_hidden_states_argument_name": "aud"},
}


def register_blocks(transformer: Any) -> None:
    """Tell diffusers' step caches where this transformer's blocks put their outputs, for the
    block classes its registry lacks, and which arguments carry their inputs: FirstBlockCache
    asks for `hidden_states` by that name, whatever the block's metadata says it is called
    (Kandinsky 5's `visual_embed` would fail it)."""
    from diffusers.hooks._helpers import TransformerBlockRegistry

    named = _named_arguments()
    TransformerBlockRegistry._register()
    for block in _blocks(transformer):
        kind = type(block)
        known = TransformerBlockRegistry._registry.get(kind)
        if known is None:
            if kind.__name__ not in UNREGISTERED_BLOCKS:
                continue
            settings = UNREGISTERED_BLOCKS[kind.__name__]
        elif isinstance(known, named) or (
                known.hidden_states_argument_name == "hidden_states"
                and known.encoder_hidden_states_argument_name == "encoder_hidden_states"):
            continue
        else:
            settings = {name: getattr(known, name) for name in (
                "return_hidden_states_index", "return_encoder_hidden_states_index",
                "hidden_states_argument_name", "encoder_hidden_states_argument_name")}
        TransformerBlockRegistry.register(model_class=kind, metadata=named(**settings))


@functools.cache
def _named_arguments() -> type:
    """Block metadata that answers a hook asking for `hidden_states` or
    `encoder_hidden_states` with the arguments the block names so."""
    from diffusers.hooks._helpers import TransformerBlockMetadata

    class NamedArguments(TransformerBlockMetadata):
        def _get_parameter_from_args_kwargs(self, identifier: str, args: Any = (),
                                            kwargs: Any = None) -> Any:
            aliases = {"hidden_states": self.hidden_states_argument_name,
                       "encoder_hidden_states": self.encoder_hidden_states_argument_name}
            return super()._get_parameter_from_args_kwargs(
                aliases.get(identifier, identifier), args, kwargs)

    return NamedArguments


def cache_config(cache: StepCache, steps: int) -> Any:
    """The diffusers hook configuration for a preset's step cache at this job's steps."""
    if cache.kind == "magcache":
        from diffusers.hooks import MagCacheConfig

        from worker.catalogue.magcache import interpolated

        return MagCacheConfig(threshold=cache.threshold, max_skip_steps=cache.max_skip,
                              retention_ratio=cache.retention, num_inference_steps=steps,
                              mag_ratios=list(interpolated(cache.ratios, steps)))
    from diffusers.hooks import FirstBlockCacheConfig

    return FirstBlockCacheConfig(threshold=cache.threshold)


@contextmanager
def step_cache(pipeline: Any, cache: StepCache, steps: int) -> Iterator[SkipCount]:
    """A step cache on every transformer for one job, counting what it skipped: a skipped
    forward never reaches the last block's layers, a computed one always does.

    A transformer of one block (only toy models) has nothing to skip: `count.cached` stays
    False. Pipelines that name no cache context (FramePack, Kandinsky 5) run in one; those
    that name one per CFG branch (Wan, LTX, CogVideoX) keep theirs."""
    import torch

    count = SkipCount()
    handles = []
    enabled = []

    def forward(*_: Any) -> None:
        count.forwards += 1

    def computed(*_: Any) -> None:
        count.computed += 1

    with ExitStack() as contexts:
        try:
            for transformer in _transformers(pipeline):
                blocks = _blocks(transformer)
                handles.append(transformer.register_forward_pre_hook(forward))
                # A layer of the last block: the hooks replace blocks' forward, not their
                # layers'.
                inner = next(m for m in blocks[-1].modules() if isinstance(m, torch.nn.Linear))
                handles.append(inner.register_forward_pre_hook(computed))
                if len(blocks) < 2:
                    continue
                register_blocks(transformer)
                transformer.enable_cache(cache_config(cache, steps))
                enabled.append(transformer)
                contexts.enter_context(transformer.cache_context("balanced"))
            count.cached = bool(enabled)
            with eager_blocks(pipeline):
                yield count
        finally:
            for handle in handles:
                handle.remove()
            for transformer in enabled:
                transformer.disable_cache()


def _blocks(transformer: Any) -> Any:
    from diffusers.hooks._common import _ALL_TRANSFORMER_BLOCK_IDENTIFIERS

    for name, child in transformer.named_children():
        if name in _ALL_TRANSFORMER_BLOCK_IDENTIFIERS and len(child) > 0:
            return child
    raise GenerationError(ErrorCode.MODEL_ERROR,
                          f"{type(transformer).__name__} has no transformer blocks to cache.")


def cache_key(preset_id: str, fp8: bool) -> str:
    """The pipeline cache's key: fp8 linears change the weights, so they are another entry."""
    return preset_id + FP8_SUFFIX if fp8 else preset_id


def split_key(key: str) -> tuple[str, bool]:
    if key.endswith(FP8_SUFFIX):
        return key[: -len(FP8_SUFFIX)], True
    return key, False
