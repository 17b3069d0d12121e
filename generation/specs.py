"""Typed job specs: one validated description per task.

The studio's forms build a spec today and an API will build the same spec tomorrow; the
lifecycle refuses one that does not validate, stores its scalar fields as the job's `params`
and its media as `JobInput` rows, and turns it into the worker's `GenerationRequest` in
`to_request`, the one place where that happens.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, cast

from generation.models import InputRole, Lora, MaskTracking, Upload, Video
from generation.presets import (
    MAX_SEED,
    TASK_LABELS,
    Ability,
    GenerationRequest,
    Preset,
    Task,
    get_preset,
)
from generation.text import text_problems
from worker.catalogue import CATALOGUE, GenerationResult, Keyframe
from worker.catalogue.calls import MAX_CONDITIONING_SCALE
from worker.catalogue.helpers import CONTROL_KINDS, HELPER_PURPOSES, HELPERS, helper_for
from worker.catalogue.lora_targets import BASE_LABELS
from worker.catalogue.loras import (
    EXPERTS,
    MAX_LORAS_PER_JOB,
    MAX_STRENGTH,
    LoraWeights,
    lora_experts,
)
from worker.catalogue.media import FIT_MODES
from worker.catalogue.request import AudioTrack
from worker.catalogue.soundtrack import SOUNDTRACK_MODELS, soundtrack_model
from worker.catalogue.speed import SpeedMode, mode_error

MAX_PROMPT_CHARS = 2000


@dataclass(frozen=True)
class InputRef:
    """A job input by reference: one of the user's uploads or gallery videos, in a role."""

    role: InputRole
    upload_id: uuid.UUID | None = None
    video_id: uuid.UUID | None = None
    # A subject's photo (its owner's upload, used by the owner or a grantee).
    subject_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.upload_id is None) == (self.video_id is None):
            raise ValueError("an input names exactly one upload or one video")


@dataclass(frozen=True)
class LoraUse:
    """One of the user's LoRAs (by its id, the id of its upload) at a strength, in the experts
    of a two-expert model it names (one of EXPERTS); a stored job's LoRA that was deleted
    since has no id."""

    lora_id: uuid.UUID | None
    strength: float = 1.0
    expert: str = "both"


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
    # A helper model runs it (worker/catalogue/helpers.py), not a preset's pipeline: `preset`
    # names the helper, and `run` is the work between decoding the media and `finish`.
    runs_on_helper: ClassVar[bool] = False

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
    speed: str = SpeedMode.QUALITY.value
    fp8: bool = False
    # Stored as JobInput rows of role LORA (their strength on the row), not in params.
    loras: tuple[LoraUse, ...] = ()
    # With sound: the sound a model makes with the picture, or a source video's sound kept in
    # sync; off, the video is silent.
    sound: bool = True

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
        if self.loras and (problem := self._lora_error(preset)):
            errors["loras"] = problem
        errors.update(self._speed_errors(preset))
        return errors

    def _speed_errors(self, preset: Preset) -> dict[str, str]:
        from generation import fleet  # the worker table: who could run fp8

        errors: dict[str, str] = {}
        if type(self.sound) is not bool:
            errors["sound"] = "Sound is on or off."
        if type(self.fp8) is not bool:
            errors["fp8"] = "fp8 is on or off."
        elif problem := mode_error(preset, self.speed, fp8=self.fp8):
            errors["fp8" if problem.startswith("fp8") else "speed"] = problem
        elif self.fp8 and not fleet.fp8_offered():
            errors["fp8"] = ("No GPU worker here has fp8 (compute capability 8.9 or newer: "
                             "Ada, Hopper, Blackwell); leave it off.")
        return errors

    def _lora_error(self, preset: Preset) -> str | None:
        if len(self.loras) > MAX_LORAS_PER_JOB:
            return f"Choose at most {MAX_LORAS_PER_JOB} LoRAs."
        if any(use.lora_id is None for use in self.loras):
            return "A LoRA this job used has been deleted."
        ids = [use.lora_id for use in self.loras]
        if len(set(ids)) != len(ids):
            return "Each LoRA can be chosen once."
        for use in self.loras:
            if type(use.strength) not in (int, float) or not (
                    0.0 < use.strength <= MAX_STRENGTH):
                return f"A LoRA's strength is above 0 and at most {MAX_STRENGTH:g}."
            if use.expert not in EXPERTS:
                return (f"A LoRA's expert is one of {', '.join(EXPERTS)}, not "
                        f"{use.expert!r}.")
        found = {lora.pk: lora for lora in Lora.objects.filter(pk__in=ids)}
        for lora_id in ids:
            lora = found.get(lora_id)
            if lora is None:
                return "One of the chosen LoRAs no longer exists."
            if preset.id not in lora.fits:
                return (f"The LoRA “{lora.name}” is for {BASE_LABELS.get(lora.base, lora.base)}; "
                        f"it does not fit {preset.label}.")
        # A model of one denoiser takes each LoRA whole: an expert named for it would be
        # silently ignored by the worker.
        if not lora_experts(preset) and any(use.expert != "both" for use in self.loras):
            return (f"A LoRA cannot go into one expert of {preset.label}: it has one "
                    "transformer, not a high-noise and a low-noise expert, so leave the "
                    "expert at “both”.")
        return None

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
        # The last line of defence for every path to a job (forms, API, retries): text the
        # database cannot store is refused here rather than failing the save.
        for name, problem in text_problems(self.params()):
            errors.setdefault(name.split(".")[0], problem)
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

    def run(self, request: GenerationRequest, on_step: Any) -> GenerationResult:
        """The work of a job that a helper model runs (`runs_on_helper`); a preset's job is
        the runner's (worker.runtime.runner.run_generation)."""
        raise NotImplementedError(f"{type(self).__name__} runs on a preset's pipeline")

    def finish(self, media: Mapping[InputRole, Sequence[Any]], result: GenerationResult
               ) -> GenerationResult:
        """The job's video from the model's frames (an edit lays them over its source, an
        extension joins them to it); run by the worker after the pipeline."""
        return result

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """The finished video with the sound it carries: the model's, unless sound is off.
        Tasks on a source video keep its sound in step with the frames they keep (`source`
        is its whole track, timed from its first frame)."""
        return dataclasses.replace(result, audio=result.audio if self.sound else None)

    def inputs_in(self, role: InputRole) -> list[InputRef]:
        return [ref for ref in self.inputs if ref.role == role]

    def params(self) -> dict[str, Any]:
        """The scalar fields as stored on the job (its media are JobInput rows)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("preset", "inputs", "loras")}

    def to_request(self, media: Mapping[InputRole, Sequence[Any]] | None = None
                   ) -> GenerationRequest:
        """The worker's request, given the decoded media of each role."""
        media = media or {}

        def first(role: InputRole) -> Any:
            items = media.get(role) or ()
            return items[0] if items else None

        keyframes = tuple(
            Keyframe(image, place.frame, place.strength)
            for image, place in zip(media.get(InputRole.KEYFRAME) or (),
                                    getattr(self, "keyframes", ()), strict=False))
        return GenerationRequest(
            preset_id=self.preset, task=self.task.value, prompt=self.prompt,
            negative_prompt=self.negative_prompt, width=self.width, height=self.height,
            num_frames=self.num_frames, steps=self.steps, guidance=self.guidance,
            seed=self.seed, image=first(InputRole.START_IMAGE),
            end_image=first(InputRole.END_IMAGE), video=first(InputRole.SOURCE_VIDEO),
            mask=first(InputRole.MASK),
            reference_images=tuple(media.get(InputRole.REFERENCE) or ()),
            strength=getattr(self, "strength", None), keyframes=keyframes,
            speed=self.speed, fp8=self.fp8,
            loras=tuple(cast(Sequence[LoraWeights], media.get(InputRole.LORA) or ())),
            conditioning_scale=getattr(self, "conditioning_scale", None),
        )


def _one(ability: Ability) -> RoleRule:
    return RoleRule(least=1, most=1, ability=ability)


@dataclass(frozen=True, kw_only=True)
class TextToVideo(JobSpec):
    task = Task.T2V


class KeyframePlace(NamedTuple):
    """Where a keyframe image sits in the clip and how strongly it steers it (stored in the
    job's params as [frame, strength]; the image is the KEYFRAME input of the same rank)."""

    frame: int
    strength: float = 1.0


# However many a preset takes: the spec refuses more before asking the preset.
MAX_KEYFRAMES = 32


@dataclass(frozen=True, kw_only=True)
class ImageToVideo(JobSpec):
    """A start image (and, where the preset can, an end image) animated to the job's size.

    `fit` says how an image of another shape becomes width x height: `crop` (the largest
    centred region of the video's aspect ratio, or the `crop` box (left, top, right, bottom)
    in the start image's pixels), `pad` (letterboxed on black) or `stretch`. The worker applies
    it when it decodes the inputs (`generation.inputs`); the end image is always centred.
    Keyframes (where the preset takes them) are KEYFRAME inputs, each placed by the
    `keyframes` entry of the same rank, and fitted like the end image.
    """

    task = Task.I2V
    roles = {InputRole.START_IMAGE: _one(Ability.IMAGE),
             InputRole.END_IMAGE: RoleRule(least=0, most=1, ability=Ability.END_IMAGE),
             InputRole.KEYFRAME: RoleRule(least=0, most=MAX_KEYFRAMES,
                                          ability=Ability.KEYFRAMES)}
    fit: str = "crop"
    crop: tuple[int, int, int, int] | None = None
    keyframes: tuple[KeyframePlace, ...] = ()

    def __post_init__(self) -> None:
        # Stored params come back from JSON with the box as a list, each keyframe as a list.
        if isinstance(self.crop, list):
            object.__setattr__(self, "crop", tuple(self.crop))
        if isinstance(self.keyframes, list | tuple) and all(
                isinstance(place, list | tuple) and len(place) == 2 for place in self.keyframes):
            object.__setattr__(self, "keyframes",
                               tuple(KeyframePlace(*place) for place in self.keyframes))

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
        if preset is not None and "preset" not in errors and (
                problems := self._keyframe_errors(preset)):
            errors.pop(InputRole.KEYFRAME, None)  # said better here
            errors["keyframes"] = " ".join(problems)
        return errors

    def _keyframe_errors(self, preset: Preset) -> list[str]:
        images = self.inputs_in(InputRole.KEYFRAME)
        if not images and not self.keyframes:
            return []
        if not preset.supports(Ability.KEYFRAMES):
            able = [p.label for p in CATALOGUE.values() if p.supports(Ability.KEYFRAMES)]
            return [f"{preset.label} takes no keyframes"
                    + (f"; {' or '.join(able)} does." if able else ".")]
        if not isinstance(self.keyframes, tuple) or not all(
                isinstance(place, KeyframePlace) for place in self.keyframes):
            return ["Each keyframe is placed by a frame and a strength."]
        if len(images) != len(self.keyframes):
            return [f"Each keyframe needs one image and one place: {len(images)} images, "
                    f"{len(self.keyframes)} places."]
        return preset.keyframe_errors(self.keyframes, self.num_frames)

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


@dataclass(frozen=True)
class SourceFacts:
    """What probing (an upload) or encoding (a gallery video) found about a source video."""

    width: int
    height: int
    duration: float
    frame_count: int


def source_facts(ref: InputRef) -> SourceFacts | None:
    """The source video's size and length, from its row; None if it does not exist."""
    if ref.video_id is not None:
        video = Video.objects.filter(pk=ref.video_id).values(
            "width", "height", "duration_s", "frame_count").first()
        return None if video is None else SourceFacts(
            video["width"], video["height"], float(video["duration_s"]), video["frame_count"])
    if ref.upload_id is None:
        return None
    upload = Upload.objects.filter(pk=ref.upload_id, kind="video").values(
        "width", "height", "metadata", "frame_count", "fps").first()
    if upload is None:
        return None
    duration = upload["metadata"].get("duration") or (
        upload["frame_count"] / upload["fps"] if upload["fps"] else 0.0)
    return SourceFacts(upload["width"], upload["height"], float(duration),
                       upload["frame_count"])


def clip_frame_count(start: float, end: float, fps: int) -> int:
    """How many frames a clip from `start` to `end` seconds has at `fps` (as
    generation.inputs.clip_frames decodes it)."""
    return max(0, math.ceil(round((end - start) * fps, 6)))


def _with_source_sound(spec: JobSpec, source: AudioTrack | None, result: GenerationResult,
                       start_s: float) -> GenerationResult:
    """The source's sound from `start_s` for as long as the result plays; the model's own
    where the source is silent."""
    if source is None or not spec.sound:
        return JobSpec.soundtrack(spec, source, result)
    from worker.editing import audio

    kept = audio.segment(source, start_s, len(result.frames) / result.fps)
    return dataclasses.replace(result, audio=dataclasses.replace(kept, origin="source"))


@dataclass(frozen=True, kw_only=True)
class VideoJob(JobSpec):
    """A job on a clip of a source video: from `trim_start` to `trim_end` seconds (None: to
    its end), resampled to the model's frame rate when the worker decodes it."""

    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}
    trim_start: float = 0.0
    trim_end: float | None = None

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        if "preset" in errors or InputRole.SOURCE_VIDEO in errors or self._type_errors():
            return errors
        errors.update(self._clip_errors(get_preset(self.preset)))
        return errors

    def source(self) -> InputRef | None:
        refs = self.inputs_in(InputRole.SOURCE_VIDEO)
        return refs[0] if refs else None

    def source_facts(self) -> SourceFacts | None:
        ref = self.source()
        return None if ref is None else source_facts(ref)

    def clip_frames(self, preset: Preset, facts: SourceFacts) -> int:
        return clip_frame_count(self.trim_start, self.clip_end(facts), preset.fps)

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """A restyle or an edit keeps the frames' timing: the source's sound over the clip."""
        return _with_source_sound(self, source, result, self.trim_start)

    def clip_end(self, facts: SourceFacts) -> float:
        return facts.duration if self.trim_end is None else min(self.trim_end, facts.duration)

    def _clip_errors(self, preset: Preset) -> dict[str, str]:
        for name in ("trim_start", "trim_end"):
            value = getattr(self, name)
            if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
                return {name: "Give the time in seconds."}
        facts = self.source_facts()
        if facts is None:
            return {InputRole.SOURCE_VIDEO: "Choose a video of yours to start from."}
        if not 0 <= self.trim_start < facts.duration:
            return {"trim_start": f"Start between 0 and {facts.duration:.1f} s, where the "
                                  f"video ends."}
        if self.trim_end is not None and self.trim_end <= self.trim_start:
            return {"trim_end": "The end must come after the start."}
        frames = self.clip_frames(preset, facts)
        return self._length_errors(preset, facts, frames)

    def _length_errors(self, preset: Preset, facts: SourceFacts, frames: int
                       ) -> dict[str, str]:
        """The clip goes to the model whole: no longer than it takes, no shorter than asked."""
        seconds = self.clip_end(facts) - self.trim_start
        most = preset.max_input_frames
        if frames > most + preset.frame_step - 1:
            return {"trim_end": (
                f"This clip is {seconds:.1f} s long ({frames} frames at {preset.fps} fps); "
                f"{preset.label} takes at most {most} frames ({most / preset.fps:.1f} s). "
                f"Trim it to a shorter part.")}
        if frames < self.num_frames:
            return {"num_frames": (
                f"The clip has {frames} frames at {preset.fps} fps ({seconds:.1f} s); the job "
                f"asks for {self.num_frames}. Choose fewer frames or a longer clip.")}
        return {}


@dataclass(frozen=True, kw_only=True)
class VideoToVideo(VideoJob):
    task = Task.V2V
    strength: float | None = None

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        if self.strength is not None and not 0.0 < self.strength <= 1.0:
            errors["strength"] = "Strength must be above 0 and at most 1."
        return errors


EDIT_MODES = ("change", "keep", "reframe")
MAX_EDGE_PX = 64  # grow and feather, in pixels of the job's frame


@dataclass(frozen=True, kw_only=True)
class EditVideo(VideoJob):
    """Repaint part of a clip (Wan VACE): `change` the marked area of the mask, or `keep` it
    and repaint the rest; or `reframe` the clip to another shape (the job's size), the source
    placed at `anchor` (start: left or top; centre; end: right or bottom) and the rest made.
    With reference images (a subject's photos) the masked person or object is swapped for the
    subject.
    `grow` widens the repainted area (pixels of the job's frame); `feather` softens its edge
    when the result is laid over the source."""

    task = Task.EDIT
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO),
             InputRole.MASK: RoleRule(least=0, most=1, ability=Ability.MASK),
             InputRole.REFERENCE: RoleRule(least=0, most=5, ability=Ability.REFERENCE)}
    subjects: tuple[Mapping[str, str], ...] = ()
    mode: str = "change"
    grow: int = 0
    feather: int = 0
    anchor: str = "centre"

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        if self.mode not in EDIT_MODES:
            return {**errors, "mode": f"Choose one of: {', '.join(EDIT_MODES)}."}
        for name in ("grow", "feather"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= MAX_EDGE_PX:
                errors[name] = f"{name.capitalize()} by 0 to {MAX_EDGE_PX} pixels."
        if self.anchor not in ("start", "centre", "end"):
            errors["anchor"] = "Place the video at the start, the centre or the end."
        if "preset" in errors or InputRole.SOURCE_VIDEO in errors or self._type_errors():
            return errors
        facts = self.source_facts()
        if facts is None:
            return errors
        masks = self.inputs_in(InputRole.MASK)
        if self.mode == "reframe":
            if masks:
                errors[InputRole.MASK] = "Reframing makes its own mask; leave it out."
            elif abs(math.log(self.width / self.height)
                     - math.log(facts.width / facts.height)) < 0.02:
                errors["size"] = (f"The video is already {facts.width} × {facts.height}'s "
                                  f"shape; pick a size of another shape to reframe it to.")
        elif not masks:
            errors[InputRole.MASK] = ("Mark the area to change on a frame of the video, or "
                                      "upload a mask.")
        elif problem := self._mask_error(masks[0], facts):
            errors[InputRole.MASK] = problem
        return errors

    def _mask_error(self, ref: InputRef, facts: SourceFacts) -> str | None:
        upload = Upload.objects.filter(pk=ref.upload_id).first() if ref.upload_id else None
        if upload is None:
            return "A mask is an image or video upload of yours."
        tracked = MaskTracking.objects.filter(mask=upload).first()
        if tracked is not None:
            if problem := self._tracked_mask_error(tracked):
                return problem
        elif (upload.width, upload.height) != (facts.width, facts.height):
            return (f"The mask is {upload.width} × {upload.height}; the video is "
                    f"{facts.width} × {facts.height}. Draw or make it at the video's size.")
        elif upload.kind == "video" and upload.frame_count != facts.frame_count:
            return (f"The mask video has {upload.frame_count} frames; the video has "
                    f"{facts.frame_count}. A mask video covers the whole video, frame for "
                    f"frame.")
        from generation.inputs import mask_coverage

        coverage = mask_coverage(upload)
        if coverage == 0.0:
            return "The mask is empty: mark the area to change."
        if coverage == 1.0 and self.mode == "keep":
            return "The mask covers the whole frame: there is nothing left to change."
        return None

    def _tracked_mask_error(self, tracked: MaskTracking) -> str | None:
        """A tracked mask covers its clip only (generation.inputs decodes it from its first
        frame): it must be of this source, from this start, at the model's frame rate and
        long enough for the job."""
        source = self.source()
        fps = get_preset(self.preset).fps
        if source is None or (tracked.video_id, tracked.upload_id) != (source.video_id,
                                                                         source.upload_id):
            return "This tracked mask follows a subject in another video; track it on this one."
        if abs(tracked.start_s - self.trim_start) > 1e-3 or tracked.fps != fps \
                or tracked.num_frames < self.num_frames:
            return (f"The mask was tracked over {tracked.num_frames} frames from "
                    f"{tracked.start_s:g} s at {tracked.fps} fps; this edit takes "
                    f"{self.num_frames} frames from {self.trim_start:g} s at {fps} fps. "
                    f"Track it again for this clip.")
        return None

    def to_request(self, media: Mapping[InputRole, Sequence[Any]] | None = None
                   ) -> GenerationRequest:
        media = media or {}
        video, area = self._canvas_and_area(media)
        from worker.editing.masks import as_grey_frames

        return dataclasses.replace(super().to_request(media), video=video,
                                   mask=as_grey_frames(area))

    def _canvas_and_area(self, media: Mapping[InputRole, Sequence[Any]]) -> tuple[Any, Any]:
        """The frames the model sees and the area it repaints, at the job's size."""
        import numpy as np

        from worker.editing import masks

        frames = np.asarray(media[InputRole.SOURCE_VIDEO][0])[: self.num_frames]
        if self.mode == "reframe":
            return masks.reframe_canvas(frames, self.width, self.height, self.anchor,
                                        self.grow)
        mask = np.asarray(media[InputRole.MASK][0])
        area = masks.repaint_area(mask, self.mode, self.width, self.height, len(frames),
                                  self.grow)
        return masks.resize_frames(frames, self.width, self.height), area

    def finish(self, media: Mapping[InputRole, Sequence[Any]], result: GenerationResult
               ) -> GenerationResult:
        """What the user kept stays exactly the source's pixels; the seam is feathered."""
        from worker.editing import masks

        canvas, area = self._canvas_and_area(media)
        count = min(len(result.frames), len(canvas))
        alpha = masks.feather(area[:count], self.feather)
        frames = masks.composite(canvas[:count], result.frames[:count], alpha)
        return dataclasses.replace(result, frames=frames)


@dataclass(frozen=True, kw_only=True)
class ExtendVideo(VideoJob):
    """Continue a clip past its end (`trim_end`, or the video's end): the model gets its last
    `context_frames` frames and makes `num_frames` in all, the first of which redraw the
    context. `join` lays the continuation after the clip (colours matched, the context
    crossfaded); otherwise the new frames alone are the video."""

    task = Task.EXTEND
    context_frames: int = 17
    join: bool = True

    def errors(self) -> dict[str, str]:
        errors = super().errors()
        preset = CATALOGUE.get(self.preset)
        if preset is None or "preset" in errors:
            return errors
        context = self.context_frames
        if type(context) is not int or not 1 <= context < self.num_frames \
                or (context - 1) % preset.frame_step:
            errors["context_frames"] = (
                f"Keep a context of one more than a multiple of {preset.frame_step} frames, "
                f"fewer than the {self.num_frames} made.")
        if not isinstance(self.join, bool):
            errors["join"] = "Say whether to join the continuation to the video."
        return errors

    def _length_errors(self, preset: Preset, facts: SourceFacts, frames: int
                       ) -> dict[str, str]:
        # The clip may be long: only its last frames go to the model.
        if type(self.context_frames) is int and frames < self.context_frames:
            return {"context_frames": (
                f"The clip has {frames} frames at {preset.fps} fps; the continuation needs "
                f"its last {self.context_frames}.")}
        return {}

    def to_request(self, media: Mapping[InputRole, Sequence[Any]] | None = None
                   ) -> GenerationRequest:
        media = media or {}
        clip = media[InputRole.SOURCE_VIDEO][0]
        return dataclasses.replace(super().to_request(media),
                                   video=clip[-self.context_frames:])

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """Joined, the clip keeps its sound and the continuation's follows it, crossfaded over
        the context the two share; from a model that makes no sound, the clip's sound fades
        out at the cut and the rest is silent (with sound off: all of it). Kept separate, the
        continuation carries the model's sound alone."""
        from worker.editing import audio

        made = result.audio
        if not self.sound:
            return dataclasses.replace(result, audio=None)
        context_s = self.context_frames / result.fps
        if not self.join:
            if made is None:
                return result
            rest = len(result.frames) / result.fps
            return dataclasses.replace(result, audio=dataclasses.replace(
                audio.segment(made, context_s, rest), origin=made.origin))
        if source is None:
            return JobSpec.soundtrack(self, source, result)
        total_s = len(result.frames) / result.fps
        clip_s = total_s - (self.num_frames - self.context_frames) / result.fps
        kept = audio.segment(source, self.trim_start, clip_s)
        if made is None:
            joined = dataclasses.replace(audio.then_silence(kept, total_s),
                                         origin="source, then silence")
        else:
            joined = dataclasses.replace(audio.join(kept, made, context_s),
                                         origin="source, then model")
        return dataclasses.replace(result, audio=joined)

    def finish(self, media: Mapping[InputRole, Sequence[Any]], result: GenerationResult
               ) -> GenerationResult:
        from worker.editing import join, masks

        if not self.join:
            return dataclasses.replace(result, frames=result.frames[self.context_frames:])
        clip = masks.resize_frames(media[InputRole.SOURCE_VIDEO][0], self.width, self.height)
        return dataclasses.replace(result, frames=join.join(clip, result.frames,
                                                            self.context_frames))


@dataclass(frozen=True, kw_only=True)
class Personalize(JobSpec):
    task = Task.PERSONALIZE
    roles = {InputRole.REFERENCE: RoleRule(least=1, most=5, ability=Ability.REFERENCE)}
    # The subjects whose photos are the references, as they were when the job was made
    # ({"name", "kind"} each): the recipe names them after a rename or a delete.
    subjects: tuple[Mapping[str, str], ...] = ()


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

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """The motion, and so its timing, is the source's from `start_s`: so is the sound."""
        return _with_source_sound(self, source, result, self.start_s)

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


UPSCALE_FACTORS = (2, 4)
# The largest result: 4K UHD's side and area, and frames enough for 10 s of 1080p at 24 fps
# (the worker holds the upscaled frames in memory until they are encoded).
MAX_UPSCALED_SIDE = 3840
MAX_UPSCALED_AREA = 3840 * 2160
MAX_UPSCALED_PIXELS = 1920 * 1080 * 240


@dataclass(frozen=True, kw_only=True)
class UpscaleVideo(JobSpec):
    """A whole video at `factor` times its size, frame by frame, by the upscaling helper model
    `preset` names: every frame kept at the source's frame rate (`fps`), and its sound.
    `width`, `height` and `num_frames` are the result's (`for_source` fills them in, and the
    source's prompt, which the gallery shows); steps, guidance and a seed mean nothing here."""

    task = Task.UPSCALE
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}
    runs_on_helper = True
    prompt: str = ""
    width: int = 0
    height: int = 0
    num_frames: int = 0
    steps: int = 0
    guidance: float = 0.0
    seed: int = 0
    factor: int = 2
    fps: int = 0

    @classmethod
    def for_source(cls, source: InputRef, factor: Any, preset: str | None = None,
                   sound: bool = True) -> UpscaleVideo:
        """The job for a video of the user's (a gallery video or an upload) at `factor`; the
        installed upscaler unless `preset` names one. A missing source leaves the sizes
        empty, and `errors` says why."""
        facts = source_facts(source)
        scale = factor if type(factor) is int else 0
        fps = _source_fps(source) if facts is not None else 0
        prompt = ""
        if source.video_id is not None:
            prompt = Video.objects.filter(pk=source.video_id).values_list(
                "prompt", flat=True).first() or ""
        return cls(preset=preset or helper_for("upscale").id, inputs=(source,), prompt=prompt,
                   factor=factor, sound=sound, fps=fps,
                   width=facts.width * scale if facts else 0,
                   height=facts.height * scale if facts else 0,
                   num_frames=facts.frame_count if facts else 0)

    def errors(self) -> dict[str, str]:
        helper = HELPERS.get(self.preset) if isinstance(self.preset, str) else None
        if helper is None or helper.purpose != "upscale":
            return {"preset": f"There is no upscaler called {self.preset!r}."}
        if not helper.is_installed():
            return {"preset": f"{helper.label} is not installed; ask an admin to add it."}
        errors = self._type_errors()
        for name in ("factor", "fps"):
            if type(getattr(self, name)) is not int:
                errors[name] = f"{name.capitalize()} must be a whole number."
        if type(self.sound) is not bool:
            errors["sound"] = "Sound is on or off."
        if errors:
            return errors
        if self.factor not in UPSCALE_FACTORS:
            errors["factor"] = (f"Upscale by {' or '.join(f'{f}×' for f in UPSCALE_FACTORS)}.")
        refs = self.inputs_in(InputRole.SOURCE_VIDEO)
        if len(refs) != 1 or len(self.inputs) != 1:
            errors[InputRole.SOURCE_VIDEO] = "Upscaling takes one video and nothing else."
        if self.loras:
            errors["loras"] = "Upscaling takes no LoRAs."
        if errors:
            return errors
        facts = source_facts(refs[0])
        if facts is None:
            return {InputRole.SOURCE_VIDEO: "Choose a video of yours to upscale."}
        expected = (facts.width * self.factor, facts.height * self.factor, facts.frame_count)
        if (self.width, self.height, self.num_frames) != expected:
            return {"size": (f"Upscaled {self.factor}×, the {facts.width} × {facts.height} "
                             f"video of {facts.frame_count} frames is {expected[0]} × "
                             f"{expected[1]}, every frame.")}
        width, height = expected[:2]
        if max(width, height) > MAX_UPSCALED_SIDE or width * height > MAX_UPSCALED_AREA:
            errors["factor"] = (f"Upscaled {self.factor}×, this {facts.width} × "
                                f"{facts.height} video would be {width} × {height}; the "
                                f"largest is {MAX_UPSCALED_SIDE} × 2160 (4K)"
                                + (". Choose 2×." if self.factor > 2 else "."))
        elif width * height * facts.frame_count > MAX_UPSCALED_PIXELS:
            most = MAX_UPSCALED_PIXELS // (width * height)
            errors[InputRole.SOURCE_VIDEO] = (
                f"At {width} × {height}, at most {most} frames can be upscaled at once; this "
                f"video has {facts.frame_count}. Trim it in the editor first.")
        if self.fps < 1:
            errors["fps"] = "The source video's frame rate is unknown."
        return errors

    def run(self, request: GenerationRequest, on_step: Any) -> GenerationResult:
        from worker.editing.upscale import run_upscale

        return run_upscale(request, on_step, self.fps)

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """Every frame is kept in its place: so is the whole of the source's sound."""
        return _with_source_sound(self, source, result, 0.0)


SOUND_MIXES = ("under", "replace")


@dataclass(frozen=True, kw_only=True)
class AddSound(JobSpec):
    """A gallery video with a sound made from `prompt` by the soundtrack model `preset` names:
    every frame kept at the source's frame rate (`fps`), the sound as long as they play. Where
    the source has sound, `mix` says whether the new one goes `under` it (at `volume`, 0 to 1,
    of the source's level) or `replace`s it. `width`, `height` and `num_frames` are the
    source's (`for_source` fills them in)."""

    task = Task.SOUNDTRACK
    roles = {InputRole.SOURCE_VIDEO: _one(Ability.VIDEO)}
    runs_on_helper = True
    width: int = 0
    height: int = 0
    num_frames: int = 0
    steps: int = 0
    guidance: float = 0.0
    seed: int = 0
    fps: int = 0
    mix: str = "under"
    volume: float = 0.5

    @classmethod
    def for_source(cls, source: InputRef, prompt: Any, *, seed: int, mix: Any = "under",
                   volume: Any = 0.5, preset: str | None = None) -> AddSound:
        """The job for a video of the user's: the installed soundtrack model unless `preset`
        names one, at its default steps and guidance; a missing source leaves the sizes
        empty, and `errors` says why."""
        model = SOUNDTRACK_MODELS.get(preset) if preset else soundtrack_model()
        facts = source_facts(source)
        return cls(preset=preset or soundtrack_model().id, inputs=(source,), prompt=prompt,
                   mix=mix, volume=volume,
                   seed=seed,
                   steps=model.default_steps if model else 0,
                   guidance=model.default_guidance if model else 0.0,
                   fps=_source_fps(source) if facts is not None else 0,
                   width=facts.width if facts else 0, height=facts.height if facts else 0,
                   num_frames=facts.frame_count if facts else 0)

    def errors(self) -> dict[str, str]:
        model = SOUNDTRACK_MODELS.get(self.preset) if isinstance(self.preset, str) else None
        if model is None:
            return {"preset": f"There is no soundtrack model called {self.preset!r}."}
        if not model.is_installed():
            return {"preset": f"{model.label} is not installed; ask an admin to add it."}
        errors = self._type_errors()
        if type(self.fps) is not int:
            errors["fps"] = "Fps must be a whole number."
        if type(self.volume) not in (int, float) or not 0.0 <= self.volume <= 1.0:
            errors["volume"] = "The new sound's volume is between 0 and 1 (100 %)."
        if self.mix not in SOUND_MIXES:
            errors["mix"] = "Put the new sound under the video's own, or replace it."
        if self.sound is not True:
            errors["sound"] = "Adding sound makes a video with sound."
        if errors:
            return errors
        if not self.prompt.strip():
            errors["prompt"] = "Write what it should sound like."
        elif len(self.prompt) > MAX_PROMPT_CHARS or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            errors["prompt"] = f"Keep it under {MAX_PROMPT_CHARS} characters."
        if not 1 <= self.steps <= model.max_steps:
            errors["steps"] = f"Steps must be between 1 and {model.max_steps}."
        if not 0.0 <= self.guidance <= model.max_guidance:
            errors["guidance"] = f"Guidance must be between 0 and {model.max_guidance:g}."
        if not 0 <= self.seed <= MAX_SEED:
            errors["seed"] = f"The seed must be between 0 and {MAX_SEED}."
        refs = self.inputs_in(InputRole.SOURCE_VIDEO)
        if len(refs) != 1 or len(self.inputs) != 1 or refs[0].video_id is None:
            errors[InputRole.SOURCE_VIDEO] = ("Adding sound takes one of your videos and "
                                              "nothing else.")
        if self.loras:
            errors["loras"] = "Adding sound takes no LoRAs."
        if errors:
            return errors
        facts = source_facts(refs[0])
        if facts is None:
            return {InputRole.SOURCE_VIDEO: "Choose a video of yours to add sound to."}
        if (self.width, self.height, self.num_frames) != (facts.width, facts.height,
                                                         facts.frame_count):
            return {"size": (f"The video is {facts.width} × {facts.height}, "
                             f"{facts.frame_count} frames; adding sound keeps every one.")}
        if self.fps < 1:
            return {"fps": "The source video's frame rate is unknown."}
        seconds = facts.frame_count / self.fps
        if seconds > model.max_seconds:
            errors[InputRole.SOURCE_VIDEO] = (
                f"{model.label} makes at most {model.max_seconds:g} s of sound; this video "
                f"plays {seconds:.1f} s. Trim it in the editor first.")
        return errors

    def run(self, request: GenerationRequest, on_step: Any) -> GenerationResult:
        from worker.editing.soundtrack import run_soundtrack

        return run_soundtrack(request, on_step, self.fps)

    def soundtrack(self, source: AudioTrack | None, result: GenerationResult
                   ) -> GenerationResult:
        """The model's sound alone on a silent video (or with `replace`); under the source's
        own, at `volume`, with `under`."""
        made = result.audio
        if source is None or made is None or self.mix == "replace":
            return result
        from worker.editing.soundtrack import mix_under

        kept = dataclasses.replace(
            audio_segment(source, len(result.frames) / result.fps), origin="source")
        return dataclasses.replace(result, audio=mix_under(kept, made, float(self.volume)))


def audio_segment(track: AudioTrack, duration_s: float) -> AudioTrack:
    from worker.editing import audio

    return audio.segment(track, 0.0, duration_s)


def _source_fps(ref: InputRef) -> int:
    """The frame rate the source plays at, as its row records it (0 if unknown)."""
    fps: float | None = (
        Video.objects.filter(pk=ref.video_id).values_list("fps", flat=True).first()
        if ref.video_id is not None else
        Upload.objects.filter(pk=ref.upload_id or uuid.UUID(int=0)).values_list(
            "fps", flat=True).first())
    return round(fps) if fps else 0


SPECS: dict[Task, type[JobSpec]] = {
    spec.task: spec
    for spec in (TextToVideo, ImageToVideo, VideoToVideo, EditVideo, ExtendVideo, Personalize,
                 TransferMotion, UpscaleVideo, AddSound)
}


def spec_class(task: Task | str) -> type[JobSpec]:
    return SPECS[Task(task)]


def build_spec(task: Task | str, preset: str, params: Mapping[str, Any],
               inputs: Sequence[InputRef] = (), loras: Sequence[LoraUse] = ()) -> JobSpec:
    """A spec of `task` from stored or submitted params; unknown keys are ignored, missing
    ones raise SpecError."""
    cls = spec_class(task)
    names = {f.name for f in dataclasses.fields(cls)} - {"preset", "inputs", "loras"}
    try:
        return cls(preset=preset, inputs=tuple(inputs), loras=tuple(loras),
                   **{k: v for k, v in params.items() if k in names})
    except TypeError as error:
        raise SpecError({"__all__": f"The job is incomplete: {error}."}) from None
