"""The generation form: defaults and limits come from the chosen preset."""

from __future__ import annotations

import dataclasses
import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from generation import fleet
from generation.availability import TaskOffer, installed_presets, offer, offers
from generation.form_files import FileSlot
from generation.formatting import duration
from generation.loras import compatible_loras
from generation.models import InputRole, Upload
from generation.presets import MAX_SEED, Ability, Preset, Task
from generation.prompt_help import with_original_prompt
from generation.queries import recent_prompts
from generation.specs import (
    MAX_PROMPT_CHARS,
    InputRef,
    JobSpec,
    KeyframePlace,
    LoraUse,
    SpecError,
)
from generation.submission import (
    Submission,
    accept,
    common_params,
    offered_speeds,
    resolve_preset,
)
from worker.catalogue.loras import (
    EXPERT_LABELS,
    EXPERTS,
    MAX_LORAS_PER_JOB,
    MAX_STRENGTH,
    lora_experts,
)
from worker.catalogue.speed import SPEED_HELP, SPEED_LABELS, SpeedMode

TASK_CHOICES = [("t2v", "From a prompt"), ("i2v", "From an image"),
                ("personalize", "With a subject"), ("swap", "Swap in a subject"),
                ("control", "Transfer motion")]


# Each LoRA slot's fields: the LoRA, its strength, and the experts of a two-expert model it
# goes into.
LORA_FIELDS = tuple(f"{name}_{n}" for name in ("lora", "lora_strength", "lora_expert")
                    for n in range(1, MAX_LORAS_PER_JOB + 1))

# The settings a person chose that the form keeps after a submit (with the model and prompt):
# the next job runs as they set it up, not at the defaults. The seed is kept only as typed.
KEPT_SETTINGS = ("size", "num_frames", "steps", "guidance", "speed", "fp8", "sound", "seed",
                 "negative_prompt", "variations", *LORA_FIELDS)


# The most jobs one press of Generate makes (each counts against the person's job limit).
MAX_VARIATIONS = 4


def _size_value(width: int, height: int) -> str:
    return f"{width}x{height}"


class TextToVideoForm(forms.Form):
    task = "t2v"
    prompt = forms.CharField(
        max_length=MAX_PROMPT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "A red fox runs through snow"}),
        error_messages={"required": "Write what the video should show."},
    )
    negative_prompt = forms.CharField(
        max_length=MAX_PROMPT_CHARS, required=False, label="Avoid",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "blurry, text, watermark"}),
    )
    preset = forms.ChoiceField(label="Model")
    size = forms.ChoiceField(label="Size")
    num_frames = forms.TypedChoiceField(label="Length", coerce=int)
    steps = forms.IntegerField(min_value=1)
    guidance = forms.FloatField(min_value=0.0)
    speed = forms.ChoiceField(label="Speed", widget=forms.RadioSelect, required=False,
                              initial=SpeedMode.QUALITY.value)
    fp8 = forms.BooleanField(label="fp8", required=False,
                             help_text="fp8 matrix maths on GPUs that have it: faster, "
                                       "slightly different output.")
    # Offered where there is sound to keep or leave out (a model that makes it, a source that
    # has it). A form sent without it keeps the sound.
    sound = forms.TypedChoiceField(
        label="Sound", widget=forms.RadioSelect, required=False, initial="1",
        coerce=lambda value: value == "1", empty_value=None,
        choices=[("1", "With sound"), ("0", "Silent")])
    remix_of = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # What the person wrote before using an Improve prompt suggestion (static/js/prompt-help.js
    # fills it): the job's recipe keeps it beside the prompt.
    prompt_original = forms.CharField(max_length=MAX_PROMPT_CHARS, required=False,
                                      widget=forms.HiddenInput)
    seed = forms.IntegerField(
        min_value=0, max_value=MAX_SEED, required=False,
        help_text="Leave empty for a random seed; it is shown with the result.",
    )
    variations = forms.TypedChoiceField(
        label="Variations", coerce=int, required=False, initial=1,
        choices=[(n, f"{n} video{'s' if n > 1 else ''}") for n in range(1, MAX_VARIATIONS + 1)],
        help_text="Jobs of this prompt at once, on consecutive seeds.")

    _spec: JobSpec

    # Files sent with the form, accepted as uploads by the view before the form is bound
    # (generation.form_files), so clean() reads them by id and stores nothing.
    file_slots: tuple[FileSlot, ...] = ()

    def __init__(self, *args: Any, user: Any = None,
                 refused_files: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self.user = user
        # The messages of files sent with the form that were refused before it was bound.
        self.refused_files = dict(refused_files or {})
        super().__init__(*args, **kwargs)
        self._kept = set(self.initial)  # what the caller asked for, before the defaults
        self.presets = {preset.id: preset for preset in self.available_presets()}
        self._choice("preset").choices = [(p.id, p.label) for p in self.presets.values()]
        self.selected_preset = self._selected_preset()
        if self.selected_preset is not None:
            self._apply_limits(self.selected_preset)
            speeds = self.speed_choices(self.selected_preset)
            self._choice("speed").choices = speeds
            offered = {value for value, _ in speeds}
            if not self.is_bound and self.initial.get("speed") not in offered:
                self.initial["speed"] = SpeedMode.QUALITY.value
        self.offers_fp8 = fleet.fp8_offered()
        if not self.offers_fp8:
            del self.fields["fp8"]
        self.offers_sound = self.sound_offered()
        if self.offers_sound:
            self.fields["sound"].help_text = self.sound_help()
        else:
            del self.fields["sound"]
        self._add_lora_fields()

    def sound_offered(self) -> bool:
        """Whether this job has sound to keep or leave out: its model makes some."""
        return self.selected_preset is not None and self.selected_preset.makes_sound

    def sound_help(self) -> str:
        return ("The model makes the sound with the picture; Silent leaves it out of the "
                "video (it is no faster).")

    def speed_choices(self, preset: Preset) -> list[tuple[str, str]]:
        """Each mode the preset has, with its denoising time at the settings chosen so far on
        the worker that would run it: measured there, or "estimating" before a job has been."""
        values = self.data if self.is_bound else self.initial
        params: dict[str, Any] = {
            "steps": preset.default_steps, "guidance": preset.default_guidance,
            "width": preset.default_width, "height": preset.default_height,
            "num_frames": preset.default_frames}
        try:
            params["steps"] = min(max(1, int(values.get("steps", ""))), preset.max_steps)
            params["guidance"] = float(values.get("guidance", ""))
        except (TypeError, ValueError):
            pass
        try:
            params["width"], params["height"] = (int(x) for x in str(values["size"]).split("x"))
            params["num_frames"] = int(values["num_frames"])
        except (KeyError, TypeError, ValueError):
            pass
        estimator = fleet.Estimator()
        kinds = estimator.live_kinds()
        kind = kinds[0] if kinds else None
        choices = []
        for mode in offered_speeds(preset):
            took = estimator.denoise_s(preset.id, {**params, "speed": mode.value}, kind)
            when = ("estimating…" if took is None else
                    f"{'under a second' if took < 0.5 else f'about {duration(took)}'} on {kind}")
            choices.append((mode.value, f"{SPEED_LABELS[mode]} · {when} · {SPEED_HELP[mode]}"))
        return choices

    def _add_lora_fields(self) -> None:
        """A choice of the user's LoRAs that fit the chosen model, each with a strength, and on
        a two-expert model (Wan 2.2 A14B) the experts it goes into."""
        preset = self.selected_preset
        fitting = (compatible_loras(self.user, preset.id)
                   if preset is not None and self.user is not None else [])
        choices = [("", "—")] + [(str(lora.pk), lora.name) for lora in fitting]
        # The fields exist even with nothing to offer: a LoRA id or an expert sent anyway is
        # refused, not dropped. The template shows them only when there is a choice.
        self.offers_loras = bool(fitting)
        self.offers_experts = preset is not None and bool(lora_experts(preset))
        self.lora_fields: list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]] = []
        for index in range(1, MAX_LORAS_PER_JOB + 1):
            self.fields[f"lora_{index}"] = forms.ChoiceField(
                label=f"LoRA {index}", choices=choices, required=False,
                error_messages={"invalid_choice": "Choose one of your LoRAs that fits this "
                                                  "model."})
            self.fields[f"lora_strength_{index}"] = forms.FloatField(
                label="Strength", required=False, initial=1.0, min_value=0.05,
                max_value=MAX_STRENGTH, widget=forms.NumberInput(attrs={"step": 0.05}))
            self.fields[f"lora_expert_{index}"] = forms.ChoiceField(
                label="Experts", required=False, initial="both",
                choices=[(name, EXPERT_LABELS[name]) for name in EXPERTS],
                error_messages={"invalid_choice": "Choose both experts, the high-noise one or "
                                                  "the low-noise one."})
            self.lora_fields.append((self[f"lora_{index}"], self[f"lora_strength_{index}"],
                                     self[f"lora_expert_{index}"]))

    @property
    def shows_loras(self) -> bool:
        return self.offers_loras or any(
            name.startswith("lora_") for name in (self.errors if self.is_bound else {}))

    def _show_refused_files(self) -> None:
        for name, message in self.refused_files.items():
            self.add_error(name, message)

    def _lora_uses(self, data: dict[str, Any]) -> tuple[LoraUse, ...]:
        uses = []
        for index in range(1, MAX_LORAS_PER_JOB + 1):
            chosen = data.get(f"lora_{index}")
            if chosen:
                strength = data.get(f"lora_strength_{index}")
                uses.append(LoraUse(uuid.UUID(chosen), 1.0 if strength is None else strength,
                                    data.get(f"lora_expert_{index}") or "both"))
        return tuple(uses)

    @functools.cached_property
    def recent_prompts(self) -> list[str]:
        """The person's last prompts, offered to write from again."""
        return recent_prompts(self.user) if self.user is not None else []

    def available_presets(self) -> list[Preset]:
        """Installed presets that run this form's task (generation.availability)."""
        return installed_presets(self.task)

    def task_choices(self) -> list[tuple[str, str]]:
        return TASK_CHOICES

    @property
    def task_offers(self) -> list[TaskOffer]:
        """The task picker: each task, greyed out with the model it needs where none runs it."""
        return offers(self.task_choices())

    @property
    def current_offer(self) -> TaskOffer:
        return offer(self.task, dict(self.task_choices()).get(self.task, self.task))

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def _selected_preset(self) -> Preset | None:
        wanted = self.data.get("preset") if self.is_bound else self.initial.get("preset")
        if wanted in self.presets:
            return self.presets[wanted]
        return next(iter(self.presets.values()), None)

    def _apply_limits(self, preset: Preset) -> None:
        fields = self.fields
        self._choice("size").choices = [
            (_size_value(w, h), f"{w} × {h}" + (" (landscape)" if w > h else " (portrait)"
                                               if h > w else " (square)"))
            for w, h in preset.sizes
        ]
        self._choice("num_frames").choices = [
            (n, f"{n} frames · {preset.duration_s(n):.1f} s") for n in preset.frame_choices()
        ]
        # The browser's hints; clean() checks the same limits on the server.
        fields["steps"].widget.attrs.update(min=1, max=preset.max_steps)
        fields["guidance"].widget.attrs.update(min=0, max=preset.max_guidance, step=0.5)
        if not self.is_bound:
            self.initial = {
                "size": _size_value(preset.default_width, preset.default_height),
                "num_frames": preset.default_frames,
                "steps": preset.default_steps,
                "guidance": preset.default_guidance,
                **self.initial,
                "preset": preset.id,
            }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.selected_preset is None:
            raise forms.ValidationError("No model is installed yet; ask an admin to add one.")
        if self.errors:
            return data
        # The submission entrance holds the rules (the spec's, the catalogue's limits); the
        # form only turns its fields into a submission and shows the verdict.
        try:
            self._spec = accept(Task.T2V, self._submission(data), self._preset_for(data))
        except SpecError as refused:
            for field, message in refused.errors.items():
                self.add_error(self._error_field(field), message)
        return data

    def _error_field(self, field: str) -> str | None:
        if field == "loras" and "lora_1" in self.fields:
            return "lora_1"
        return field if field in self.fields else None

    def _submission(self, data: dict[str, Any], **task_parts: Any) -> Submission:
        """The form's fields as a submission (generation.submission fills what is unset)."""
        width, height = (int(x) for x in data["size"].split("x"))
        return Submission(
            preset=data["preset"], prompt=data["prompt"],
            negative_prompt=data["negative_prompt"], width=width, height=height,
            num_frames=data["num_frames"], steps=data["steps"], guidance=data["guidance"],
            seed=data["seed"], speed=data.get("speed") or None, fp8=data.get("fp8"),
            sound=data.get("sound"), loras=self._lora_uses(data), owner=self.user,
            prompt_original=data.get("prompt_original"), **task_parts)

    def _preset_for(self, data: dict[str, Any]) -> Preset:
        preset = self.selected_preset
        return preset if preset is not None and preset.id == data["preset"] else \
            resolve_preset(data["preset"])

    def _common(self, data: dict[str, Any]) -> dict[str, Any]:
        """What every task's spec takes from the form, as the submission entrance fills it
        (a missing seed is drawn there)."""
        return common_params(self._submission(data), self._preset_for(data))

    @classmethod
    def initial_from_recipe(cls, recipe: dict[str, Any], remix_of: Any = None
                            ) -> dict[str, Any]:
        """Prefill the form with a video's recipe (Remix)."""
        keys = ("prompt", "negative_prompt", "num_frames", "steps", "guidance", "seed", "speed",
                "fp8")
        initial: dict[str, Any] = {k: recipe[k] for k in keys if k in recipe}
        if recipe.get("sound") is False:
            initial["sound"] = "0"
        initial["preset"] = recipe.get("preset")
        if "width" in recipe and "height" in recipe:
            initial["size"] = _size_value(recipe["width"], recipe["height"])
        initial["remix_of"] = remix_of
        for index, lora in enumerate(recipe.get("loras") or (), start=1):
            initial[f"lora_{index}"] = lora.get("id")
            initial[f"lora_strength_{index}"] = lora.get("strength")
            initial[f"lora_expert_{index}"] = lora.get("expert", "both")
        return initial

    def spec(self) -> JobSpec:
        """The validated job spec (call after is_valid); a missing seed was drawn in clean."""
        return self._spec

    def specs(self) -> list[JobSpec]:
        """The spec once per variation asked for, on consecutive seeds from its own."""
        count = self.cleaned_data.get("variations") or 1
        spec = with_original_prompt(self._spec, self.cleaned_data.get("prompt_original"))
        return [dataclasses.replace(spec, seed=(spec.seed + n) % (MAX_SEED + 1))
                for n in range(count)]


FIT_CHOICES = [
    ("crop", "Crop to fill the frame"),
    ("pad", "Fit inside, black bars"),
    ("stretch", "Stretch to the frame"),
]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def nearest_size(sizes: Sequence[tuple[int, int]], width: int, height: int
                 ) -> tuple[int, int] | None:
    """The allowed size whose aspect ratio is nearest the image's (on a log scale, so 2:1 and
    1:2 are as far from 1:1); the larger one on a tie."""
    if not sizes or width < 1 or height < 1:
        return None
    aspect = math.log(width / height)
    return min(sizes, key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), -s[0] * s[1]))


class RepeatedField(forms.Field):
    """Every value sent under one name (one per keyframe row), as stripped strings."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        return [str(item).strip() for item in value or ()]


# The keyframe rows' inputs, one value per row in each.
KEYFRAME_FIELDS = ("keyframe_image", "keyframe_frame", "keyframe_strength")
CROP_FIELDS = ("crop_left", "crop_top", "crop_right", "crop_bottom")


@dataclass(frozen=True)
class KeyframeRow:
    """One keyframe as the timeline shows it: its image (if chosen and the user's), its frame
    and strength as sent, and its time in seconds."""

    number: int
    upload_id: str
    upload: Upload | None
    frame: str
    strength: str
    seconds: float | None


def _values(source: Mapping[str, Any], name: str) -> list[str]:
    if isinstance(source, QueryDict):
        return source.getlist(name)
    value = source.get(name) or []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


class ImageToVideoForm(TextToVideoForm):
    """From an image: a start image (an upload of the user's, by id, or a file sent with the
    form), an end image where the model takes one, and how the image fits the frame."""

    task = "i2v"
    start_image = forms.UUIDField(required=False, widget=forms.HiddenInput)
    start_file = forms.FileField(required=False, label="Start image",
                                 widget=forms.ClearableFileInput(
                                     attrs={"accept": "image/png,image/jpeg,image/webp"}))
    end_image = forms.UUIDField(required=False, widget=forms.HiddenInput)
    end_file = forms.FileField(required=False, label="End image",
                               help_text="Optional: the frame the video ends on.",
                               widget=forms.ClearableFileInput(
                                   attrs={"accept": "image/png,image/jpeg,image/webp"}))
    fit = forms.ChoiceField(label="Fit the image", choices=FIT_CHOICES, initial="crop")
    # The crop box on the start image, in its pixels (static/js/crop-box.js fills them).
    crop_left = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    crop_top = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    crop_right = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    crop_bottom = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    keyframe_image = RepeatedField(required=False)
    keyframe_frame = RepeatedField(required=False)
    keyframe_strength = RepeatedField(required=False)

    file_slots = (FileSlot("start_file", "start_image", InputRole.START_IMAGE),
                  FileSlot("end_file", "end_image", InputRole.END_IMAGE))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        preset = self.selected_preset
        self.takes_end_image = preset is not None and preset.supports(Ability.END_IMAGE)
        self.takes_keyframes = preset is not None and preset.supports(Ability.KEYFRAMES)
        if preset is not None and preset.requires_end_image:
            self.fields["end_file"].help_text = "This model animates between two images."

    def _apply_limits(self, preset: Preset) -> None:
        super()._apply_limits(preset)
        if self.is_bound:
            return
        if not preset.supports(Ability.END_IMAGE):  # switched away from a model that took one
            self.initial.pop("end_image", None)
        # The size nearest the start image's shape, unless one was asked for.
        start = self._owned_upload(self.initial.get("start_image"))
        if start is not None and "size" not in self._kept:
            best = nearest_size(preset.sizes, start.width, start.height)
            if best is not None:
                self.initial["size"] = _size_value(*best)

    def _owned_upload(self, upload_id: Any) -> Upload | None:
        if not upload_id or self.user is None:
            return None
        try:
            return Upload.objects.filter(owner=self.user, pk=upload_id, kind="image").first()
        except ValidationError:  # not a UUID
            return None

    def _chosen(self, name: str) -> Upload | None:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return self._owned_upload(value)

    def start_upload(self) -> Upload | None:
        """The start image chosen so far (for its thumbnail), if it is the user's."""
        return self._chosen("start_image")

    def end_upload(self) -> Upload | None:
        return self._chosen("end_image")

    RECENT_IMAGES = 12

    @functools.cached_property
    def recent_images(self) -> list[Upload]:
        """The user's latest image uploads, to pick from instead of uploading again."""
        if self.user is None:
            return []
        return list(Upload.objects.filter(owner=self.user, kind="image")
                    .order_by("-created_at")[:self.RECENT_IMAGES])

    def num_frames_value(self) -> int:
        """The clip's length as chosen so far (the timeline's scale)."""
        preset = self.selected_preset
        value = self.data.get("num_frames") if self.is_bound else self.initial.get("num_frames")
        try:
            return int(str(value))
        except (TypeError, ValueError):
            return preset.default_frames if preset else 1

    def _owned_images(self, ids: Sequence[str]) -> dict[str, Upload]:
        """Those of `ids` that name the user's own images, by id."""
        wanted = [i for i in ids if _is_uuid(i)]
        if self.user is None or not wanted:
            return {}
        return {str(upload.id): upload for upload in
                Upload.objects.filter(owner=self.user, kind="image", pk__in=wanted)}

    @functools.cached_property
    def keyframe_rows(self) -> list[KeyframeRow]:
        """The keyframes placed so far, plus an empty one when one is being added."""
        preset = self.selected_preset
        if preset is None or not self.takes_keyframes:
            return []
        source = self.data if self.is_bound else self.initial
        images, frames, strengths = (_values(source, name) for name in KEYFRAME_FIELDS)
        count = max(len(images), len(frames), len(strengths))
        mine = self._owned_images(images)
        rows = []
        for index in range(count):
            image = images[index] if index < len(images) else ""
            frame = frames[index] if index < len(frames) else ""
            rows.append(KeyframeRow(
                number=index + 1, upload_id=image, upload=mine.get(image), frame=frame,
                strength=strengths[index] if index < len(strengths) else "1",
                seconds=int(frame) / preset.fps if frame.isdigit() else None))
        if not self.is_bound and self.initial.get("add_keyframe"):
            taken = {row.frame for row in rows}
            free = [f for f in preset.keyframe_frames(self.num_frames_value())
                    if str(f) not in taken]
            at = free[-1] if free else preset.frame_step
            rows.append(KeyframeRow(number=count + 1, upload_id="", upload=None,
                                    frame=str(at), strength="1", seconds=at / preset.fps))
        return rows

    def can_add_keyframe(self) -> bool:
        preset = self.selected_preset
        return (preset is not None and self.takes_keyframes
                and len(self.keyframe_rows) < preset.max_keyframes)

    def _keyframes(self, data: dict[str, Any]) -> tuple[list[InputRef], list[KeyframePlace]]:
        """The keyframe rows as input refs and places; a row that cannot be read is reported
        by its number."""
        images, frames, strengths = (data.get(name) or [] for name in KEYFRAME_FIELDS)
        if not (len(images) == len(frames) == len(strengths)):
            self.add_error("keyframe_image", "Each keyframe needs an image, a frame and a "
                                             "strength; send them together.")
            return [], []
        owned = self._owned_images(images)
        refs, places = [], []
        for number, (image, frame, strength) in enumerate(
                zip(images, frames, strengths, strict=True), start=1):
            if not image:
                self.add_error("keyframe_image",
                               f"Choose an image for keyframe {number}, or remove it.")
            elif image not in owned:
                self.add_error("keyframe_image",
                               f"Keyframe {number}'s image is not one of your images.")
            else:
                refs.append(InputRef(InputRole.KEYFRAME, upload_id=uuid.UUID(image)))
            try:
                places.append(KeyframePlace(int(frame), float(strength)))
            except ValueError:
                self.add_error("keyframe_image", f"Keyframe {number} needs a whole frame "
                                                 f"number and a strength from 0 to 1.")
        return refs, places

    def _crop(self, data: dict[str, Any]) -> tuple[int, int, int, int] | None:
        box = tuple(data.get(name) for name in CROP_FIELDS)
        if data.get("fit") != "crop" or any(v is None for v in box):
            return None
        return cast(tuple[int, int, int, int], box)

    def _image_ref(self, data: dict[str, Any], name: str, role: InputRole) -> InputRef | None:
        """The upload for `name`, by id: a file sent with the form was accepted as one by the
        view already (file_slots)."""
        if not data.get(name):
            return None
        return InputRef(role, upload_id=data[name])

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError(
                "No image-to-video model is installed yet; ask an admin to add one.")
        self._show_refused_files()
        refs = []
        start = self._image_ref(data, "start_image", InputRole.START_IMAGE)
        if start is None and "start_file" not in self.errors:
            self.add_error("start_file", "Choose the image the video starts from.")
        refs.append(start)
        # Given to a model that takes none, the spec refuses it (below) rather than dropping it.
        refs.append(self._image_ref(data, "end_image", InputRole.END_IMAGE))
        keyframe_refs, places = self._keyframes(data)
        if self.errors:
            return data
        inputs = tuple(ref for ref in refs if ref is not None) + tuple(keyframe_refs)
        options = {"fit": data["fit"], "crop": self._crop(data), "keyframes": tuple(places)}
        try:
            self._spec = accept(Task.I2V, self._submission(data, inputs=inputs,
                                                           options=options),
                                self._preset_for(data))
        except SpecError as refused:
            problems = refused.errors
        else:
            problems = {}
        for field_name, message in problems.items():
            target = {"start_image": "start_file",
                      "end_image": "end_file" if self.takes_end_image else None,
                      "keyframe": "keyframe_image" if self.takes_keyframes else None,
                      "keyframes": "keyframe_image" if self.takes_keyframes else None,
                      "crop": "fit",
                      }.get(field_name, field_name)
            self.add_error(self._error_field(target) if target else None, message)
        return data
