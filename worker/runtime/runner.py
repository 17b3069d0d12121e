"""Running a generation job (any task a preset can do) on a cached pipeline."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from worker.catalogue import (
    MAX_SEED,
    ErrorCode,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    JobCancelled,
    Preset,
    StepInfo,
    check_inputs,
    family_of,
    get_preset,
)
from worker.catalogue.speed import SpeedMode, mode_error, mode_run, step_cache_for

from . import speed
from .cache import PIPELINES, LoadedPipeline, PipelineCache, free_memory
from .loras import apply_loras
from .memory import job_needs_tiling, needs_for_job
from .preview import unpacked_latents

logger = logging.getLogger("framecraft.worker")

_OOM_MESSAGES = ("out of memory", "can't allocate memory")
# Celery's time limits must reach the task untouched, and this package cannot import Celery.
_PASSTHROUGH_NAMES = frozenset({"SoftTimeLimitExceeded", "TimeLimitExceeded"})


def frames_to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] to uint8, rounding as diffusers does when it makes PIL images."""
    return (frames * 255).round().astype(np.uint8)


def tensor_frames_to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(F, C, H, W) frames in [0, 1] to uint8 (F, H, W, C), on the frames' device: the same
    arithmetic as frames_to_uint8, with a quarter of the bytes copied back."""
    frames = frames.permute(0, 2, 3, 1).float()
    return frames.mul(255).round().to(torch.uint8).cpu().numpy()


def validate_request(request: GenerationRequest) -> Preset:
    """The request's preset, or GenerationError("bad_parameters") saying what is wrong."""
    try:
        preset = get_preset(request.preset_id)
    except KeyError as exc:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, exc.args[0]) from None
    check_inputs(preset, request)
    ints = {
        name: getattr(request, name) for name in ("width", "height", "num_frames", "steps", "seed")
    }
    wrong = [name for name, value in ints.items() if type(value) is not int]
    if not isinstance(request.guidance, int | float) or isinstance(request.guidance, bool):
        wrong.append("guidance")
    if not isinstance(request.prompt, str) or not isinstance(request.negative_prompt, str):
        wrong.append("prompt")
    if wrong:
        raise GenerationError(
            ErrorCode.BAD_PARAMETERS, f"Wrongly typed parameters: {', '.join(wrong)}."
        )
    errors = preset.parameter_errors(
        width=request.width,
        height=request.height,
        num_frames=request.num_frames,
        steps=request.steps,
        guidance=request.guidance,
    )
    if not 0 <= request.seed <= MAX_SEED:
        errors["seed"] = f"The seed must be between 0 and {MAX_SEED}."
    if not isinstance(request.fp8, bool):
        errors["fp8"] = "fp8 is on or off."
    if problem := mode_error(preset, request.speed, fp8=request.fp8 is True):
        errors["speed"] = problem
    if errors:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, " ".join(errors.values()))
    return preset


def run_generation(
    request: GenerationRequest,
    on_step: Callable[[StepInfo], None],
    cache: PipelineCache = PIPELINES,
    *,
    decode: bool = True,
) -> GenerationResult:
    """Run the request's task; `on_step` runs after every denoising step and may raise
    JobCancelled, which propagates unchanged. Without `decode` the latents are not decoded and
    the result has no frames (the other ranks of a process group: rank 0 decodes).

    Raises GenerationError with code bad_parameters, weights_missing, out_of_memory or model_error.
    """
    started = time.perf_counter()
    asked = validate_request(request)
    mode = SpeedMode(request.speed)
    # Preview runs the distilled variant at its own steps and guidance.
    run = mode_run(asked, mode, request.steps, request.guidance)
    preset = run.preset
    request = dataclasses.replace(request, preset_id=preset.id, steps=run.steps,
                                  guidance=run.guidance)
    acceleration: dict[str, Any] = {"mode": str(mode), "preset": preset.id,
                                    "steps": run.steps, "guidance": run.guidance}
    marks: dict[str, float] = {}
    failure: GenerationError | None = None
    cancelled: JobCancelled | None = None
    succeeded = False
    loaded = None
    hook = None
    tiled_for_this_job = False
    audio = None
    try:
        calls = family_of(preset).calls
        kwargs = calls.pipeline_kwargs(preset, request)
        loaded = cache.get_loaded(speed.cache_key(preset.id, request.fp8))
        # Before any variant is used: variants share the transformer, and so its adapters.
        apply_loras(loaded.pipeline, request.loras, preset.id)
        class_name = calls.pipeline_class(preset, request)
        pipeline = loaded.pipeline
        if class_name != preset.pipeline_class:
            pipeline = loaded.for_task(class_name, calls.task_components)
        marks["loaded"] = time.perf_counter()
        hook = _mark_first_forward(pipeline, marks)
        kwargs = calls.prepare(pipeline, kwargs)
        tiled_for_this_job = _tile_decode_if_needed(loaded, preset, request)
        total = calls.expected_callbacks(preset, request, pipeline)
        called = 0

        def on_step_end(
            pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]
        ) -> dict[str, Any]:
            nonlocal called
            called += 1
            now = time.perf_counter()
            marks["denoised"] = now
            begun = marks.get("denoise_start", marks["loaded"])
            on_step(
                StepInfo(
                    step=min(called, total),
                    total=total,
                    elapsed_s=now - begun,
                    # Previews want (B, C, F, H, W); LTX-Video hands its latents packed.
                    latents=unpacked_latents(pipe, tensors.get("latents"),
                                             kwargs.get("num_frames") or request.num_frames,
                                             kwargs.get("height") or request.height,
                                             kwargs.get("width") or request.width),
                )
            )
            return {}

        with ExitStack() as modes:
            skips = _apply_mode(modes, mode, loaded, pipeline, preset, request, acceleration)
            output = calls.run(
                pipeline,
                **kwargs,
                # A CPU generator gives the same starting noise whatever the device.
                generator=torch.Generator("cpu").manual_seed(request.seed),
                output_type="pt" if decode else "latent",
                callback_on_step_end=on_step_end,
                callback_on_step_end_tensor_inputs=["latents"],
            )
        if skips is not None:
            per_step = skips.forwards / max(1, request.steps)
            acceleration.update(forwards=skips.forwards, skipped_forwards=skips.skipped,
                                skipped_steps=round(skips.skipped / max(1.0, per_step)))
            if not skips.cached:
                acceleration["step_cache"] = "none: a transformer of one block has no steps to skip"
        # FramePack makes whole sections; the job asked for a length.
        frames = (tensor_frames_to_uint8(output.frames[0][: request.num_frames]) if decode
                  else np.zeros((0, request.height, request.width, 3), np.uint8))
        audio = calls.audio(pipeline, output) if decode else None
        del output
        marks["decoded"] = time.perf_counter()
        succeeded = True
    # Failures are kept and raised after `finally`, without the traceback: its frames hold the
    # job's tensors, which must be gone before the memory is freed.
    except JobCancelled as exc:
        cancelled = exc.with_traceback(None)
    except GenerationError as exc:
        failure = exc
    except Exception as exc:
        if type(exc).__name__ in _PASSTHROUGH_NAMES:
            raise
        failure = _classify(exc, preset, request)
    finally:
        if hook is not None:
            hook.remove()
        if tiled_for_this_job and loaded is not None:
            loaded.pipeline.vae.disable_tiling()
        reset = getattr(loaded.pipeline, "maybe_free_model_hooks", None) if loaded else None
        if not succeeded and callable(reset):
            # Puts offloaded models back on the CPU and resets stateful caches a run left half-done.
            try:
                reset()
            except Exception:
                logger.exception("could not reset preset %s after a failed run", preset.id)
        free_memory()
    if cancelled is not None:
        logger.info("job for preset %s cancelled", preset.id)
        raise cancelled
    if failure is not None:
        raise failure
    assert loaded is not None

    denoise_start = marks.get("denoise_start", marks["loaded"])
    denoised = marks.get("denoised", denoise_start)
    timings = {
        "load_s": marks["loaded"] - started,
        "encode_s": denoise_start - marks["loaded"],
        "denoise_s": denoised - denoise_start,
        "decode_s": marks["decoded"] - denoised,
        "total_s": marks["decoded"] - started,
    }
    return GenerationResult(
        frames=frames,
        fps=preset.fps,
        timings=timings,
        device=loaded.device,
        memory_profile=loaded.memory_profile,
        vae_tiling=tiled_for_this_job or bool(loaded.plan and loaded.plan.vae_tiling),
        speed=acceleration,
        audio=audio,
    )


def _apply_mode(modes: ExitStack, mode: SpeedMode, loaded: LoadedPipeline, pipeline: Any,
                preset: Preset, request: GenerationRequest, acceleration: dict[str, Any]
                ) -> speed.SkipCount | None:
    """Put the speed mode on the pipeline for this job; say in `acceleration` what it did."""
    state = loaded.speed
    acceleration.update(attention=state.attention, fp8=state.fp8)
    shape = (request.width, request.height, request.num_frames)
    if mode == SpeedMode.QUALITY:
        decision = speed.ensure_compiled(pipeline, preset, state, loaded.plan, loaded.device)
        acceleration.update(compiled=decision.on, compile_reason=decision.reason)
        if decision.on:
            # The first job of a size compiles (or reads the compile cache) for it.
            acceleration["new_shape"] = shape not in state.shapes_seen
            state.shapes_seen.add(shape)
        return None
    acceleration.update(compiled=False)
    if mode == SpeedMode.BALANCED:
        cache = step_cache_for(preset)
        acceleration["step_cache"] = cache.kind
        return modes.enter_context(speed.step_cache(pipeline, cache, request.steps))
    # Preview's compiled blocks (if a Quality job compiled this pipeline) would be the base's.
    modes.enter_context(speed.eager_blocks(pipeline))
    return None


def _tile_decode_if_needed(loaded: LoadedPipeline, preset: Preset,
                           request: GenerationRequest) -> bool:
    """Decode this job in tiles when its size needs it but its pipeline's plan (made for the
    default size) decodes whole; True when tiling was turned on here, for this job only."""
    vae = getattr(loaded.pipeline, "vae", None)
    if loaded.plan is None or loaded.gpu is None or loaded.plan.vae_tiling:
        return False
    if vae is None or not hasattr(vae, "enable_tiling"):
        return False
    needs = needs_for_job(preset, request.width, request.height, request.num_frames)
    if not job_needs_tiling(loaded.plan, needs, loaded.gpu):
        return False
    logger.info("preset %s: decoding a %dx%dx%d job in tiles to fit", preset.id,
                request.width, request.height, request.num_frames)
    vae.enable_tiling()
    return True


def _mark_first_forward(pipeline: Any, marks: dict[str, float]) -> RemovableHandle | None:
    """Stamp when the denoiser first runs: that is when denoising starts."""
    for name in ("transformer", "transformer_2", "unet"):
        module = getattr(pipeline, name, None)
        if isinstance(module, torch.nn.Module):

            def stamp(module: torch.nn.Module, args: Any) -> None:
                marks.setdefault("denoise_start", time.perf_counter())

            return module.register_forward_pre_hook(stamp)
    return None


def _classify(exc: Exception, preset: Preset, request: GenerationRequest) -> GenerationError:
    size = f"{request.width}x{request.height}, {request.num_frames} frames"
    if isinstance(exc, torch.OutOfMemoryError | MemoryError) or (
        isinstance(exc, RuntimeError) and any(m in str(exc) for m in _OOM_MESSAGES)
    ):
        logger.warning("preset %s ran out of memory at %s: %s", preset.id, size, exc)
        return GenerationError(
            ErrorCode.OUT_OF_MEMORY,
            f"{preset.label} ran out of memory at {size}. "
            "Try a smaller size or fewer frames, or a worker with more memory.",
        )
    logger.exception("preset %s failed at %s", preset.id, size)
    detail = f"{type(exc).__name__}: {exc}"
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return GenerationError(ErrorCode.MODEL_ERROR, f"{preset.label} failed: {detail}")
