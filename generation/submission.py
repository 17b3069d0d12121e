"""One entrance for a job submission, shared by the studio's forms and the API.

Each caller only turns its input into a `Submission`: the values a person gave, None where a
setting was left unset, and the inputs, LoRAs and task options by reference. `accept` fills
the unset values from the preset's defaults, draws a missing seed (the one place a seed is
drawn), checks that the inputs are the person's own and of the right kind, builds the task's
spec and validates it. A form shows the refusal's messages by field; the API answers them as
its 422.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.models import InputRole, Lora, Upload, UploadKind, Video
from generation.presets import MAX_SEED, Preset, Task, get_preset
from generation.prompt_help import with_original_prompt
from generation.specs import InputRef, JobSpec, LoraUse, SpecError, build_spec, spec_class
from worker.catalogue.speed import SpeedMode, preview_variant

# The settings every job has (JobSpec's fields), sent beside a task's own options, not in
# them. `subjects` is the job's record of the subjects it used, made from those picked or
# named `@name`: never a client's to write.
COMMON_FIELDS = frozenset({f.name for f in dataclasses.fields(JobSpec)} | {"subjects"})

# Inputs a model reads as a still image; a video there would reach the pipeline as frames.
IMAGE_ROLES = frozenset({InputRole.START_IMAGE, InputRole.END_IMAGE, InputRole.KEYFRAME,
                         InputRole.REFERENCE})


def task_options(task: Task | str) -> list[str]:
    """The settings a task's spec takes beyond those every job has (e.g. `fit`, `crop` and
    `keyframes` for i2v, `strength` for v2v)."""
    return sorted({f.name for f in dataclasses.fields(spec_class(task))} - COMMON_FIELDS)


def takes_subjects(task: Task | str) -> bool:
    """Whether the task's jobs take subjects' photos as their reference images."""
    return "subjects" in {f.name for f in dataclasses.fields(spec_class(task))}


def offered_speeds(preset: Preset) -> list[SpeedMode]:
    """The speed modes a job of `preset` can ask for here: Preview only where its distilled
    weights are installed (a choice that would be refused is not offered)."""
    variant = preview_variant(preset)
    return [mode for mode in SpeedMode if mode != SpeedMode.PREVIEW
            or (variant is not None and variant.is_installed())]


def draw_seed() -> int:
    """A random seed for a job that was given none (shown with the result)."""
    return secrets.randbelow(MAX_SEED + 1)


@dataclass(frozen=True, kw_only=True)
class Submission:
    """A job as someone asked for it, before any default: None is "unset"."""

    preset: str
    prompt: str
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    speed: str | None = None
    fp8: bool | None = None
    sound: bool | None = None
    inputs: tuple[InputRef, ...] = ()
    loras: tuple[LoraUse, ...] = ()
    # The task's own settings, by its spec's field names (`task_options`).
    options: Mapping[str, Any] = field(default_factory=dict)
    # The subjects whose photos are among the inputs, as the job records them.
    subjects: tuple[Mapping[str, str], ...] = ()
    # The prompt as the person wrote it before taking an "Improve prompt" suggestion.
    prompt_original: str | None = None
    # Whose job it is: when given, inputs and LoRAs of anyone else are refused here, before
    # the spec's messages (which describe them: a LoRA's name, an image's size) are written.
    owner: Any = None


def resolve_preset(preset_id: str) -> Preset:
    try:
        return get_preset(preset_id)
    except KeyError:
        raise SpecError({"preset": f"There is no model called {preset_id!r}."}) from None


def common_params(submission: Submission, preset: Preset) -> dict[str, Any]:
    """What every task's spec takes: the values given, the preset's defaults for the unset
    ones, and a seed drawn when none was given."""

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return {
        "preset": preset.id, "prompt": submission.prompt.strip(),
        "negative_prompt": submission.negative_prompt.strip(),
        "width": pick(submission.width, preset.default_width),
        "height": pick(submission.height, preset.default_height),
        "num_frames": pick(submission.num_frames, preset.default_frames),
        "steps": pick(submission.steps, preset.default_steps),
        "guidance": pick(submission.guidance, preset.default_guidance),
        "seed": draw_seed() if submission.seed is None else submission.seed,
        "speed": submission.speed or SpeedMode.QUALITY.value,
        "fp8": pick(submission.fp8, False),
        # Unset keeps the sound: a model's, or a source video's.
        "sound": pick(submission.sound, True),
        "loras": submission.loras,
    }


def accept(task: Task | str, submission: Submission, preset: Preset | None = None
           ) -> JobSpec:
    """The task's spec for this submission, validated; SpecError (a message per field)
    when it cannot run as asked. `preset` saves a look-up where the caller has it."""
    task = Task(task)
    _check_options(task, submission.options)
    chosen = preset if preset is not None else resolve_preset(submission.preset)
    if submission.owner is not None:
        check_owned(submission.owner, submission.inputs, submission.loras)
    if problems := _kind_errors(submission.inputs):
        raise SpecError(problems)
    params = {key: value for key, value in common_params(submission, chosen).items()
              if key not in ("preset", "loras")}
    params.update(submission.options)
    if submission.subjects:
        params["subjects"] = submission.subjects
    spec = with_original_prompt(
        build_spec(task, chosen.id, params, submission.inputs, submission.loras),
        submission.prompt_original)
    spec.validate()
    return spec


def _check_options(task: Task, options: Mapping[str, Any]) -> None:
    allowed = task_options(task)
    problems = {}
    for name in sorted(set(options) - set(allowed)):
        if name in COMMON_FIELDS and name != "subjects":
            problems[f"options.{name}"] = (f"{name} is a setting of every job: send it beside "
                                           f"the options, not in them.")
        else:
            problems[f"options.{name}"] = (f"{task.value} takes no option {name!r} (it "
                                           f"takes: {', '.join(allowed) or 'none'}).")
    if problems:
        raise SpecError(problems)


def check_owned(owner: Any, inputs: Sequence[InputRef], loras: Sequence[LoraUse] = ()
                ) -> None:
    """In the lifecycle's own words (it checks again at submit): someone else's upload,
    video or LoRA is as missing as one that does not exist. A subject's photos belong to its
    owner; the lifecycle checks the grant."""
    uploads = {ref.upload_id for ref in inputs if ref.upload_id and not ref.subject_id}
    videos = {ref.video_id for ref in inputs if ref.video_id}
    wanted = {use.lora_id for use in loras if use.lora_id is not None}
    if len(uploads) != Upload.objects.filter(owner=owner, pk__in=uploads).count() or (
            len(videos) != Video.objects.filter(owner=owner, pk__in=videos).count()):
        raise SpecError({"__all__": "One of the job's inputs does not exist."})
    if len(wanted) != Lora.objects.filter(owner=owner, pk__in=wanted).count():
        raise SpecError({"loras": "One of the chosen LoRAs does not exist."})


def kind_problem(role: InputRole | str, is_video: bool) -> str | None:
    """What is wrong with an input of this kind in this role: a video where the model reads
    an image, an image where it reads a video; None where it fits (a mask may be either)."""
    role = InputRole(role)
    if role in IMAGE_ROLES and is_video:
        return f"Choose an image, not a video, as the {role.label.lower()}."
    if role == InputRole.SOURCE_VIDEO and not is_video:
        return "Choose a video, not an image."
    return None


def _kind_errors(inputs: Sequence[InputRef]) -> dict[str, str]:
    """Each role's first input of a kind it does not read, by role."""
    ids = {ref.upload_id for ref in inputs if ref.upload_id}
    kinds = dict(Upload.objects.filter(pk__in=ids).values_list("pk", "kind")) if ids else {}
    errors: dict[str, str] = {}
    for ref in inputs:
        kind = kinds.get(ref.upload_id) if ref.upload_id is not None else None
        if ref.video_id is None and kind is None:
            continue  # no such upload: refused as missing, not as of the wrong kind
        problem = kind_problem(ref.role, ref.video_id is not None or kind == UploadKind.VIDEO)
        if problem is not None:
            errors.setdefault(InputRole(ref.role).value, problem)
    return errors
