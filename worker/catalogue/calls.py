"""How a family's pipelines are called: a request → the pipeline's keyword arguments, and how
many times the step callback will run. `CallAdapter` is what most families need; a family whose
pipelines take their inputs otherwise subclasses it (VACE, LTX, CogVideoX, FramePack).
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Preset, Task
from .media import bad, fit, to_frames, to_image
from .request import AudioTrack, GenerationRequest

# How strictly a control track may be followed: VACE is trained at 1; past 2 it only burns in.
MAX_CONDITIONING_SCALE = 2.0


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
        "keyframes": bool(request.keyframes),
    }
    needs = {
        Task.T2V: set(),
        Task.I2V: {"image"},
        Task.V2V: {"video"},
        Task.EDIT: {"video", "mask"},
        Task.EXTEND: {"video"},
        Task.PERSONALIZE: {"reference_images"},
        Task.CONTROL: {"video"},
    }[task]
    allowed = set(needs)
    if task == Task.I2V and preset.supports(Ability.END_IMAGE):
        allowed.add("end_image")
    if task == Task.I2V and preset.supports(Ability.KEYFRAMES):
        allowed.add("keyframes")
    if task == Task.EDIT and preset.supports(Ability.REFERENCE):
        allowed.add("reference_images")  # a swap: the masked part becomes the subject
    if task == Task.I2V and preset.requires_end_image:
        needs = needs | {"end_image"}
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
        if task in (Task.V2V, Task.EDIT, Task.CONTROL) and frames < request.num_frames:
            raise bad(f"The input video has {frames} frames; the job asks for "
                      f"{request.num_frames}.")
        if task == Task.EXTEND and frames >= request.num_frames:
            raise bad(f"To extend a clip of {frames} frames, ask for more than {frames}.")
    if has["mask"] and len(request.mask) < request.num_frames:
        raise bad(f"The mask has {len(request.mask)} frames; the job needs {request.num_frames}.")
    if has["reference_images"] and len(request.reference_images) > preset.max_reference_images:
        raise bad(f"{preset.label} takes at most {preset.max_reference_images} reference "
                  f"images; {len(request.reference_images)} were given.")
    if has["keyframes"]:
        placed = [(keyframe.frame, keyframe.strength) for keyframe in request.keyframes]
        if problems := preset.keyframe_errors(placed, request.num_frames):
            raise bad(" ".join(problems))
    strength = request.strength
    if strength is not None and (
        isinstance(strength, bool)
        or not isinstance(strength, int | float)
        or not 0.0 < strength <= 1.0
    ):
        raise bad(f"Strength must be above 0 and at most 1; {strength!r} is not.")
    scale = request.conditioning_scale
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)
                              or not 0.0 <= scale <= MAX_CONDITIONING_SCALE):
        raise bad(f"The conditioning scale must be between 0 and {MAX_CONDITIONING_SCALE:g}; "
                  f"{scale!r} is not.")


class CallAdapter:
    """Text, a start image (and an end image), or a video to restyle, passed the way the
    diffusers pipelines name them; one callback per denoising step."""

    def pipeline_class(self, preset: Preset, request: GenerationRequest) -> str:
        """The diffusers class that runs this request on the preset's components."""
        if request.keyframes and preset.keyframe_pipeline_class:
            return preset.keyframe_pipeline_class
        return preset.pipeline_class_for(request.task)

    def task_components(self, class_name: str, pipeline: Any) -> dict[str, Any]:
        """Components that `class_name` needs in place of the loaded pipeline's ones (it is
        built once on the same components, then kept); none by default."""
        return {}

    def pipeline_kwargs(self, preset: Preset, request: GenerationRequest) -> dict[str, Any]:
        """The keyword arguments, beyond generator and callbacks, for this request's pipeline."""
        kwargs: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "height": request.height,
            "width": request.width,
            "num_frames": request.num_frames,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            **preset.call_defaults,
        }
        kwargs.update(self.inputs(Task(request.task), preset, request, kwargs))
        return kwargs

    def inputs(
        self, task: Task, preset: Preset, request: GenerationRequest, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The media arguments for `task`; may remove arguments the task's pipeline lacks."""
        if task == Task.I2V:
            given = {"image": self.image(request, request.image, "start image")}
            if request.end_image is not None:
                given["last_image"] = self.image(request, request.end_image, "end image")
            return given
        if task == Task.V2V:
            # Video-to-video pipelines take as many frames as the video has.
            kwargs.pop("num_frames")
            return {
                "video": self.video(request),
                "strength": request.strength or preset.default_strength,
            }
        return {}

    def expected_callbacks(self, preset: Preset, request: GenerationRequest, pipeline: Any) -> int:
        """How many times the step callback will run."""
        return request.steps

    def prepare(self, pipeline: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments once the pipeline is loaded, for inputs it must encode first."""
        return kwargs

    def run(self, pipeline: Any, **kwargs: Any) -> Any:
        """Call the pipeline (with `callback_on_step_end` among the arguments); a family whose
        pipelines take no step callback makes one here."""
        return pipeline(**kwargs)

    def audio(self, pipeline: Any, output: Any) -> AudioTrack | None:
        """The sound the pipeline made with the frames; None for the silent families."""
        return None

    @staticmethod
    def image(request: GenerationRequest, value: Any, what: str) -> Any:
        return fit(to_image(value, what), request.width, request.height)

    @staticmethod
    def video(request: GenerationRequest) -> list[Any]:
        frames = to_frames(request.video, "video")[: request.num_frames]
        return [fit(frame, request.width, request.height) for frame in frames]


def strength_steps(preset: Preset, request: GenerationRequest) -> int:
    """Steps a job makes when video-to-video starts `strength` of the way down the schedule."""
    if Task(request.task) != Task.V2V:
        return request.steps
    strength = request.strength or preset.default_strength
    return max(1, min(int(request.steps * strength), request.steps))
