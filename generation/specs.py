"""Typed job specs: one validated description per task.

The studio's forms build a spec today and an API will build the same spec tomorrow; the
lifecycle refuses one that does not validate, stores its scalar fields as the job's `params`
and its media as `JobInput` rows, and turns it into the worker's `GenerationRequest` in
`to_request`, the one place where that happens.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from generation.models import InputRole, Upload, Video
from generation.presets import (
    MAX_SEED,
    TASK_LABELS,
    Ability,
    GenerationRequest,
    Preset,
    Task,
    get_preset,
)
from worker.catalogue import CATALOGUE
from worker.catalogue.calls import MAX_CONDITIONING_SCALE
from worker.catalogue.helpers import CONTROL_KINDS, HELPER_PURPOSES, helper_for
from worker.catalogue.media import FIT_MODES

MAX_PROMPT_CHARS = 2000


@dataclass(frozen=True)
class InputRef:
    """A job input by reference: one of the user's uploads or gallery videos, in a role."""

    role: InputRole
    upload_id: uuid.UUID | None = None
    video_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.upload_id is None) == (self.video_id is None):
            raise ValueError("an input names exactly one upload or one video")


@dataclass(frozen=True)
class RoleRule:
    """How many inputs of a role a task takes; `ability` is what the preset must accept."""

    least: int
    most: int
    ability: Ability


class SpecError(ValueError):
    """A spec that does not validate, with a message per field (`__all__` for the whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = dict(errors)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """What every task asks: a preset, a prompt, the size and sampling settings, a seed."""

    task: ClassVar[Task]
    roles: ClassVar[Mapping[InputRole, RoleRule]] = {}

    preset: str
    prompt: str
    negative_prompt: str = ""
    width: int
    height: int
    num_frames: int
    steps: int
    guidance: float
    seed: int
    inputs: tuple[InputRef, ...] = field(default=(), compare=True)

    def errors(self) -> dict[str, str]:
        """Problems keyed by field name; empty when the spec can run as it stands."""
        try:
            preset = get_preset(self.preset)
        except KeyError:
            return {"preset": f"There is no model called {self.preset!r}."}
        errors = self._type_errors()
        if errors:
            return errors
        if not preset.is_installed():
            return {"preset": f"{preset.label} is not installed; ask an admin to add it."}
        if not preset.can(self.task):
            errors["preset"] = (f"{preset.label} cannot do {TASK_LABELS[self.task]}; "
                                f"it does {', '.join(preset.task_labels())}.")
        if not self.prompt.strip():
            errors["prompt"] = "Write what the video should show."
        for name in ("prompt", "negative_prompt"):
            if len(getattr(self, name)) > MAX_PROMPT_CHARS:
                errors[name] = f"Keep it under {MAX_PROMPT_CHARS} characters."
        errors.update(preset.parameter_errors(
            width=self.width, height=self.height, num_frames=self.num_frames, steps=self.steps,
            guidance=self.guidance))
        if not 0 <= self.seed <= MAX_SEED:
            errors["seed"] = f"The seed must be between 0 and {MAX_SEED}."
        errors.update(self._input_errors(preset))
        return errors

    def _type_errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        for name in ("width", "height", "num_frames", "steps", "seed"):
            if type(getattr(self, name)) is not int:
                errors[name] = f"{name.replace('_', ' ').capitalize()} must be a whole number."
        if type(self.guidance) not in (int, float):
            errors["guidance"] = "Guidance must be a number."
        for name in ("prompt", "negative_prompt"):
            if not isinstance(getattr(self, name), str):
                errors[name] = "Must be text."
        return errors

    def validate(self) -> None:
        if errors := self.errors():
            raise SpecError(errors)

    def _input_errors(self, preset: Preset) -> dict[str, str]:
        errors: dict[str, str] = {}
        given = {role: self.inputs_in(role) for role in InputRole}
        for role, refs in given.items():
            rule = self.roles.get(role)
            if rule is None or not preset.supports(rule.ability):
                if refs:
                    errors[role] = (f"{TASK_LABELS[self.task].capitalize()} on "
                                    f"{preset.label} takes no {InputRole(role).label.lower()}.")
                continue
            most = min(rule.most, preset.max_reference_images) \
                if role == InputRole.REFERENCE else rule.most
            if not rule.least <= len(refs) <= most:
                what = InputRole(role).label.lower()
                errors[role] = (f"Give one {what}." if rule.least == most == 1 else
                                f"Give {rule.least} to {most} of: {what}.")
        return errors

    def inputs_in(self, role: InputRole) -> list[InputRef]:
        return [ref for ref in self.inputs if ref.role == role]

    def params(self) -> dict[str, Any]:
        """The scalar fields as stored on the job (its media are JobInput rows)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("preset", "inputs")}

    def to_request(self, media: Mapping[InputRole, Sequence[Any]] | None = None
                   ) -> GenerationRequest:
        """The worker's request, given the decoded media of each role."""
        media = media or {}

        def first(role: InputRole) -> Any:
            items = media.get(role) or ()
            return items[0] if items else None

        return GenerationRequest(
            preset_id=self.preset, task=self.task.value, prompt=self.prompt,
            negative_prompt=self.negative_prompt, width=self.width, height=self.height,
            num_frames=self.num_frames, steps=self.steps, guidance=self.guidance,
            seed=self.seed, image=first(InputRole.START_IMAGE),
            end_image=first(InputRole.END_IMAGE), video=first(InputRole.SOURCE_VIDEO),
            mask=first(InputRole.MASK),
            reference_images=tuple(media.get(InputRole.REFERENCE) or ()),
            strength=getattr(self, "strength", None),
            conditioning_scale=getattr(self, "conditioning_scale", None),
        )


def _one(ability: Ability) -> RoleRule:
    return RoleRule(least=1, most=1, ability=ability)


@dataclass(frozen=True, kw_only=True)
class TextToVideo(JobSpec):
    task = Task.T2V


@dataclass(frozen=True, kw_only=True)
class ImageToVideo(JobSpec):
    """A start image (and, where the preset can, an end image) animated to the job's size.

    `fit` says how an image of another shape becomes width x height: `crop` (the largest
    centred region of the video's aspect ratio, or the `crop` box (left, top, right, bottom)
    in the start image's pixels), `pad` (letterboxed on black) or `stretch`. The worker applies
    it when it decodes the inputs (`generation.inputs`); the end image is always centred.
    """

    task = Task.I2V
    roles = {InputRole.START_IMAGE: _one(Ability.IMAGE),
             InputRole.END_IMAGE: RoleRule(least=0, most=1, ability=Ability.END_IMAGE)}
    fit: str = "crop"
    crop: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        # Stored params come back from JSON with the box as a list.
        if isinstance(self.crop, list):
            object.__setattr__(self, "crop", tuple(self.crop))

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        preset = CATALOGUE.get(self.preset)
        if (preset is not None and preset.requires_end_image and "preset" not in errors
                and not self.inputs_in(InputRole.END_IMAGE)):
            errors[InputRole.END_IMAGE] = (f"{preset.label} animates between two images: "
                                           f"give an end image too.")
        if self.fit not in FIT_MODES:
            errors["fit"] = f"Fit the image by one of: {', '.join(FIT_MODES)}."
        if self.crop is not None and (problem := self._crop_error()):
            errors["crop"] = problem
        return errors

    def _crop_error(self) -> str | None:
        box = self.crop
        if self.fit != "crop":
            return "A crop box goes with the crop fit only."
        if not (isinstance(box, tuple) and len(box) == 4
                and all(type(v) is int for v in box)):
            return "A crop box is four whole numbers: left, top, right, bottom."
        left, top, right, bottom = box
        if not (0 <= left < right and 0 <= top < bottom):
            return "A crop box needs left < right and top < bottom, none negative."
        starts = self.inputs_in(InputRole.START_IMAGE)
        if starts and starts[0].upload_id is not None:
            size = (Upload.objects.filter(pk=starts[0].upload_id)
                    .values_list("width", "height").first())
            if size is not None and (right > size[0] or bottom > size[1]):
                return (f"The crop box {box} reaches outside the {size[0]} × {size[1]} "
                        f"start image.")
        return None


@dataclass(frozen=True, kw_only=True)
class VideoToVideo(JobSpec):
    task = Task.V2V
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}
    strength: float | None = None

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        if self.strength is not None and not 0.0 < self.strength <= 1.0:
            errors["strength"] = "Strength must be above 0 and at most 1."
        return errors


@dataclass(frozen=True, kw_only=True)
class EditVideo(JobSpec):
    task = Task.EDIT
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO), InputRole.MASK: _one(Ability.MASK)}


@dataclass(frozen=True, kw_only=True)
class ExtendVideo(JobSpec):
    task = Task.EXTEND
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}


@dataclass(frozen=True, kw_only=True)
class Personalize(JobSpec):
    task = Task.PERSONALIZE
    roles = {InputRole.REFERENCE: RoleRule(least=1, most=5, ability=Ability.REFERENCE)}


@dataclass(frozen=True, kw_only=True)
class TransferMotion(JobSpec):
    """A new video that keeps the source's motion and layout: its `control` track (depth,
    pose, edges, greyscale or optical flow) from `start_s` on, at the preset's frame rate,
    followed as strictly as `conditioning_scale`; everything else comes from the prompt."""

    task = Task.CONTROL
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}
    control: str = "depth"
    conditioning_scale: float = 1.0
    start_s: float = 0.0

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        if self.control not in CONTROL_KINDS:
            errors["control"] = (f"Choose a control track among: "
                                 f"{', '.join(CONTROL_KINDS.values())}.")
        else:
            missing = [helper_for(purpose) for purpose in HELPER_PURPOSES.get(self.control, ())
                       if not helper_for(purpose).is_installed()]
            if missing:
                names = " and ".join(helper.label for helper in missing)
                errors["control"] = (f"{CONTROL_KINDS[self.control]} needs {names}, which "
                                     f"{'is' if len(missing) == 1 else 'are'} not installed; "
                                     "ask an admin to add "
                                     f"{'it' if len(missing) == 1 else 'them'}.")
        scale = self.conditioning_scale
        if type(scale) not in (int, float) or not 0.0 <= scale <= MAX_CONDITIONING_SCALE:
            errors["conditioning_scale"] = (f"The conditioning scale must be between 0 and "
                                            f"{MAX_CONDITIONING_SCALE:g}.")
        if type(self.start_s) not in (int, float) or self.start_s < 0:
            errors["start_s"] = "The start must be a time of zero seconds or more."
        elif "preset" not in errors and "num_frames" not in errors:
            errors.update(self._length_errors())
        return errors

    def source_duration_s(self) -> float | None:
        """How long the source video plays, from what probing or encoding recorded."""
        refs = self.inputs_in(InputRole.SOURCE_VIDEO)
        if not refs:
            return None
        ref = refs[0]
        if ref.video_id is not None:
            return Video.objects.filter(pk=ref.video_id).values_list(
                "duration_s", flat=True).first()
        assert ref.upload_id is not None
        row = Upload.objects.filter(pk=ref.upload_id).values("kind", "frame_count",
                                                             "fps").first()
        if row is None:
            return None
        if row["kind"] != "video":
            return -1.0
        return row["frame_count"] / row["fps"] if row["fps"] else None

    def _length_errors(self) -> dict[str, str]:
        duration = self.source_duration_s()
        if duration is None:
            return {}
        if duration < 0:
            return {InputRole.SOURCE_VIDEO: "Choose a video, not an image."}
        fps = get_preset(self.preset).fps
        needed = self.start_s + (self.num_frames - 1) / fps
        if needed > duration + 1e-6:
            return {"start_s": (f"{self.num_frames} frames at {fps} fps from {self.start_s:g} s "
                                f"reach {needed:.2f} s, past the source's end at "
                                f"{duration:.2f} s: start earlier or make it shorter.")}
        return {}


SPECS: dict[Task, type[JobSpec]] = {
    spec.task: spec
    for spec in (TextToVideo, ImageToVideo, VideoToVideo, EditVideo, ExtendVideo, Personalize,
                 TransferMotion)
}


def spec_class(task: Task | str) -> type[JobSpec]:
    return SPECS[Task(task)]


def build_spec(task: Task | str, preset: str, params: Mapping[str, Any],
               inputs: Sequence[InputRef] = ()) -> JobSpec:
    """A spec of `task` from stored or submitted params; unknown keys are ignored, missing
    ones raise SpecError."""
    cls = spec_class(task)
    names = {f.name for f in dataclasses.fields(cls)} - {"preset", "inputs"}
    try:
        return cls(preset=preset, inputs=tuple(inputs),
                   **{k: v for k, v in params.items() if k in names})
    except TypeError as error:
        raise SpecError({"__all__": f"The job is incomplete: {error}."}) from None
