"""Adding sound to a video: a text-to-audio pipeline (Stable Audio 3) makes a sound as long as
the video from the person's prompt; where the video has sound already, the new one replaces it
or goes under it. The frames are the source's, every one, at its frame rate.

Django-free: the job's spec (generation.specs.AddSound) hands over the decoded frames and gets
a `GenerationResult` back; mixing with the source's sound is the spec's `soundtrack`, through
`mix_under` here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from worker.catalogue import (
    ErrorCode,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    StepInfo,
)
from worker.catalogue.install import checkpoint_complete
from worker.catalogue.request import AudioTrack
from worker.catalogue.soundtrack import SOUNDTRACK_MODELS, SoundtrackModel, save_soundtrack

from . import audio
from .helpers import demo_checkpoint

# Where the demo model is written: beside installed models, as the demo helpers are.
DEMO_DIR = ".demo"
# One warm pipeline: a worker adds sound with one model at a time.
_loaded: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def soundtrack_folder(model: SoundtrackModel) -> Path | None:
    """The folder to load `model` from: its installed pipeline, or for the demo (while demo
    models are on) its tiny seeded random checkpoint, written once into the models folder's
    `.demo/` (the system's temporary folder without one); None when it cannot run here. The
    demo goes through the same `from_pretrained` as real weights."""
    if not model.builtin:
        return model.installed_path()
    if not model.is_installed():
        return None
    return demo_checkpoint(model.id, save_soundtrack, checkpoint_complete)


def load_soundtrack(model: SoundtrackModel, device: Any = None) -> Any:
    """The model's pipeline on `device` (bf16 on a GPU, float32 on a CPU), kept warm between
    jobs; GenerationError(weights_missing) when it is not installed."""
    import diffusers
    import torch

    from worker.runtime.devices import select_device

    device = torch.device(device) if device is not None else select_device()
    folder = soundtrack_folder(model)
    if folder is None:
        raise GenerationError(ErrorCode.WEIGHTS_MISSING, (
            f"{model.label} is not installed; an admin puts its pipeline folder into the "
            f"models folder as {model.id}/ (or the Hugging Face cache: {model.source})."))
    key = (model.id, str(folder), str(device))
    with _lock:
        if key not in _loaded:
            _loaded.clear()
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
            pipeline = getattr(diffusers, model.pipeline_class).from_pretrained(
                folder, dtype=dtype)
            pipeline.set_progress_bar_config(disable=True)
            _loaded[key] = pipeline.to(device)
        return _loaded[key]


def forget() -> None:
    """Drop the warm pipeline, and hand its GPU memory back to the driver."""
    from worker.runtime.cache import free_memory

    with _lock:
        _loaded.clear()
    free_memory()


def make_sound(pipeline: Any, prompt: str, duration_s: float, *, steps: int, guidance: float,
               seed: int, negative_prompt: str = "",
               on_step: Callable[[int, int], None] | None = None) -> AudioTrack:
    """`duration_s` of sound from the pipeline (float32, (channels, samples), at its VAE's
    rate). `on_step(done, total)` runs after each step and may raise to stop."""
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)

    def callback(_pipe: Any, index: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if on_step is not None:
            on_step(index + 1, steps)
        return tensors

    made = pipeline(prompt, duration=duration_s, num_inference_steps=steps,
                    guidance_scale=guidance, negative_prompt=negative_prompt or None,
                    generator=generator, callback_on_step_end=callback, output_type="np").audios
    samples = np.ascontiguousarray(made[0], dtype=np.float32)
    rate = int(pipeline.vae.config.sampling_rate)
    # The pipeline's length rounds down to a whole sample; the video's is exact.
    return audio.segment(AudioTrack(samples, rate), 0.0, duration_s)


def mix_under(source: AudioTrack, made: AudioTrack, volume: float) -> AudioTrack:
    """The source's sound at full level with the new one under it at `volume` (0 to 1), at
    the source's rate and channels, limited to [-1, 1]; as long as the source."""
    made = audio.converted(made, source.sample_rate, source.channels)
    made = audio.segment(made, 0.0, source.duration_s)
    mixed = source.samples + np.float32(volume) * made.samples
    return AudioTrack(np.clip(mixed, -1.0, 1.0).astype(np.float32), source.sample_rate,
                      origin="source, with the model's under it")


def run_soundtrack(request: GenerationRequest, on_step: Callable[[StepInfo], None], fps: int,
                   device: Any = None) -> GenerationResult:
    """An Add sound job: `request.video`'s frames unchanged at `fps`, with a sound as long as
    they play made by the model `request.preset_id` from `request.prompt`."""
    import torch

    model = SOUNDTRACK_MODELS.get(request.preset_id)
    if model is None:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"There is no soundtrack model called {request.preset_id!r}.")
    frames = np.asarray(request.video) if request.video is not None else np.zeros((0,))
    if frames.ndim != 4 or not len(frames) or fps < 1:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, "The video to add sound to has no frames.")
    duration = len(frames) / fps
    if duration > model.max_seconds:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, (
            f"{model.label} makes at most {model.max_seconds:g} s of sound; the video plays "
            f"{duration:.1f} s."))
    started = time.perf_counter()
    pipeline = load_soundtrack(model, device)
    loaded = time.perf_counter()
    where = pipeline.device

    def on_sampler_step(done: int, total: int) -> None:
        on_step(StepInfo(step=done, total=total, elapsed_s=time.perf_counter() - loaded))

    try:
        track = make_sound(pipeline, request.prompt, duration, steps=request.steps,
                           guidance=request.guidance, seed=request.seed,
                           negative_prompt=request.negative_prompt, on_step=on_sampler_step)
    except torch.OutOfMemoryError:
        raise GenerationError(ErrorCode.OUT_OF_MEMORY,
                              f"{model.label} ran out of GPU memory.") from None
    finally:
        del pipeline
        if where.type == "cuda":
            # The memory plans of the video models count them alone: a GPU worker gives the
            # soundtrack model's 5 GB back after each job (a CPU keeps it warm).
            forget()
    return GenerationResult(
        frames=frames, fps=fps, device=str(where), audio=track,
        memory_profile="all on the GPU" if where.type == "cuda" else "CPU",
        timings={"load_s": loaded - started, "sound_s": time.perf_counter() - loaded})
