"""How each architecture family is called for each task: request → pipeline keyword arguments.

Media arrive decoded (PIL images or uint8 arrays) and leave as what the diffusers pipelines
take: PIL images at the requested size, lists of them for videos and masks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from .presets import Ability, Preset, Task
from .request import ErrorCode, GenerationError, GenerationRequest

# VACE reads a mid-grey frame as "nothing here yet, generate it".
_VACE_EMPTY = (127, 127, 127)


def bad(message: str) -> GenerationError:
    return GenerationError(ErrorCode.BAD_PARAMETERS, message)


def to_image(value: Any, what: str, mode: str = "RGB") -> Image.Image:
    """A PIL image in `mode` from a PIL image or a uint8 array."""
    if isinstance(value, Image.Image):
        return value.convert(mode)
    if isinstance(value, np.ndarray):
        array = value
        if array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        if array.dtype != np.uint8:
            raise bad(f"The {what} must hold 8-bit pixels, not {array.dtype}.")
        if mode == "RGB" and not (array.ndim == 3 and array.shape[2] == 3):
            raise bad(f"The {what} must be shaped (height, width, 3), not {array.shape}.")
        if mode == "L" and array.ndim != 2:
            raise bad(f"The {what} must be shaped (height, width), not {array.shape}.")
        return Image.fromarray(array, mode=mode)
    raise bad(f"The {what} must be an image, not {type(value).__name__}.")


def to_frames(value: Any, what: str, mode: str = "RGB") -> list[Image.Image]:
    """A list of PIL images from a list of images or a (F, H, W[, 3]) uint8 array."""
    if isinstance(value, np.ndarray):
        expected = 4 if mode == "RGB" else 3
        if value.ndim != expected:
            raise bad(f"The {what} must be an array of frames, not shaped {value.shape}.")
        return [to_image(frame, what, mode) for frame in value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_image(frame, what, mode) for frame in value]
    raise bad(f"The {what} must be a list of frames, not {type(value).__name__}.")


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to the job's size (media are checked for shape, not size: the form crops)."""
    if image.size == (width, height):
        return image
    resample = Image.Resampling.NEAREST if image.mode == "L" else Image.Resampling.LANCZOS
    return image.resize((width, height), resample)


def check_inputs(preset: Preset, request: GenerationRequest) -> None:
    """Refuse a task the preset cannot do, or inputs the task needs but lacks or cannot take."""
    try:
        task = Task(request.task)
    except ValueError:
        known = ", ".join(Task)
        raise bad(f"Unknown task {request.task!r}; tasks are {known}.") from None
    if task not in preset.tasks:
        can = ", ".join(preset.task_labels())
        raise bad(f"{preset.label} cannot do {task} jobs; it does {can}.")
    has = {
        "image": request.image is not None,
        "end_image": request.end_image is not None,
        "video": request.video is not None,
        "mask": request.mask is not None,
        "reference_images": bool(request.reference_images),
    }
    needs = {
        Task.T2V: set(),
        Task.I2V: {"image"},
        Task.V2V: {"video"},
        Task.EDIT: {"video", "mask"},
        Task.EXTEND: {"video"},
        Task.PERSONALIZE: {"reference_images"},
    }[task]
    allowed = set(needs)
    if task == Task.I2V and preset.supports(Ability.END_IMAGE):
        allowed.add("end_image")
    missing = sorted(needs - {name for name, given in has.items() if given})
    if missing:
        raise bad(f"A {task} job needs: {', '.join(missing)}.")
    extra = sorted(name for name, given in has.items() if given and name not in allowed)
    if extra:
        raise bad(f"A {task} job on {preset.label} does not take: {', '.join(extra)}.")
    if has["video"]:
        frames = len(request.video)
        if not 1 <= frames <= preset.max_input_frames:
            raise bad(
                f"The input video must have 1 to {preset.max_input_frames} frames; "
                f"it has {frames}."
            )
        if task in (Task.V2V, Task.EDIT) and frames < request.num_frames:
            raise bad(f"The input video has {frames} frames; the job asks for "
                      f"{request.num_frames}.")
        if task == Task.EXTEND and frames >= request.num_frames:
            raise bad(f"To extend a clip of {frames} frames, ask for more than {frames}.")
    if has["mask"] and len(request.mask) < request.num_frames:
        raise bad(f"The mask has {len(request.mask)} frames; the job needs {request.num_frames}.")
    if has["reference_images"] and len(request.reference_images) > preset.max_reference_images:
        raise bad(f"{preset.label} takes at most {preset.max_reference_images} reference "
                  f"images; {len(request.reference_images)} were given.")
    strength = request.strength
    if strength is not None and (
        isinstance(strength, bool)
        or not isinstance(strength, int | float)
        or not 0.0 < strength <= 1.0
    ):
        raise bad(f"Strength must be above 0 and at most 1; {strength!r} is not.")


def expected_callbacks(preset: Preset, request: GenerationRequest, pipeline: Any) -> int:
    """How many times the step callback will run: FramePack denoises once per section."""
    if preset.family != "framepack":
        if Task(request.task) == Task.V2V and preset.family == "cogvideox":
            # Video-to-video starts part-way down the schedule: `strength` of the steps run.
            strength = request.strength or preset.default_strength
            return max(1, min(int(request.steps * strength), request.steps))
        return request.steps
    window = preset.call_defaults.get("latent_window_size", 9)
    window_frames = (window - 1) * pipeline.vae_scale_factor_temporal + 1
    sections = max(1, math.ceil(request.num_frames / window_frames))
    return request.steps * sections


def pipeline_kwargs(preset: Preset, request: GenerationRequest) -> dict[str, Any]:
    """The keyword arguments, beyond generator and callbacks, for this request's pipeline."""
    task = Task(request.task)
    width, height, count = request.width, request.height, request.num_frames
    kwargs: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt or None,
        "height": height,
        "width": width,
        "num_frames": count,
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        **preset.call_defaults,
    }

    def image(value: Any, what: str) -> Image.Image:
        return fit(to_image(value, what), width, height)

    def video(limit: int) -> list[Image.Image]:
        return [fit(frame, width, height) for frame in to_frames(request.video, "video")[:limit]]

    family = preset.family
    if family == "wan_vace":
        kwargs.update(_vace_inputs(task, request, image, video))
    elif task == Task.I2V:
        kwargs["image"] = image(request.image, "start image")
        if request.end_image is not None:
            kwargs["last_image"] = image(request.end_image, "end image")
    elif task == Task.V2V:
        # CogVideoX takes as many frames as the video has.
        kwargs.pop("num_frames")
        kwargs["video"] = video(count)
        kwargs["strength"] = request.strength or preset.default_strength
    if family == "ltx":
        kwargs["frame_rate"] = preset.fps
    return kwargs


def _vace_inputs(task: Task, request: GenerationRequest, image: Any, video: Any) -> dict:
    count, size = request.num_frames, (request.width, request.height)
    empty = Image.new("RGB", size, _VACE_EMPTY)
    keep, repaint = Image.new("L", size, 0), Image.new("L", size, 255)
    if task == Task.T2V:
        return {}
    if task == Task.I2V:
        frames = [image(request.image, "start image")] + [empty] * (count - 1)
        return {"video": frames, "mask": [keep] + [repaint] * (count - 1)}
    if task == Task.V2V:
        return {"video": video(count)}
    if task == Task.EDIT:
        masks = [fit(m, *size) for m in to_frames(request.mask, "mask", mode="L")[:count]]
        masks = [m.point(lambda value: 255 if value else 0) for m in masks]
        return {"video": video(count), "mask": masks}
    if task == Task.EXTEND:
        given = video(count)
        rest = count - len(given)
        return {"video": given + [empty] * rest, "mask": [keep] * len(given) + [repaint] * rest}
    # Personalization: the subject comes from the references, the rest from the prompt.
    references = [to_image(ref, "reference image") for ref in request.reference_images]
    return {"reference_images": references}
