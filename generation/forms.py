"""The generation form: defaults and limits come from the chosen preset."""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from generation.models import InputRole, Upload
from generation.presets import MAX_SEED, Ability, Preset, Task, presets_for
from generation.specs import MAX_PROMPT_CHARS, ImageToVideo, InputRef, JobSpec, TextToVideo
from generation.uploads import UploadRefused, accept_upload

TASK_CHOICES = [("t2v", "From a prompt"), ("i2v", "From an image"), ("control", "Transfer motion")]


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
    remix_of = forms.UUIDField(required=False, widget=forms.HiddenInput)
    seed = forms.IntegerField(
        min_value=0, max_value=MAX_SEED, required=False,
        help_text="Leave empty for a random seed; it is shown with the result.",
    )

    _spec: JobSpec

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept = set(self.initial)  # what the caller asked for, before the defaults
        self.presets = {preset.id: preset for preset in self.available_presets()}
        self._choice("preset").choices = [(p.id, p.label) for p in self.presets.values()]
        self.selected_preset = self._selected_preset()
        if self.selected_preset is not None:
            self._apply_limits(self.selected_preset)

    def available_presets(self) -> list[Preset]:
        """Installed presets that make a video from a prompt alone."""
        return presets_for(Task.T2V)

    def task_choices(self) -> list[tuple[str, str]]:
        return TASK_CHOICES

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
        # The spec holds the rules (the catalogue's limits); the form only shows its verdict.
        self._spec = TextToVideo(**self._common(data))
        for field, message in self._spec.errors().items():
            self.add_error(field if field in self.fields else None, message)
        return data

    def _common(self, data: dict[str, Any]) -> dict[str, Any]:
        """What every task's spec takes from the form; a missing seed is drawn here."""
        width, height = (int(x) for x in data["size"].split("x"))
        seed = data["seed"] if data["seed"] is not None else secrets.randbelow(MAX_SEED + 1)
        return {
            "preset": data["preset"], "prompt": data["prompt"].strip(),
            "negative_prompt": data["negative_prompt"].strip(), "width": width,
            "height": height, "num_frames": data["num_frames"], "steps": data["steps"],
            "guidance": data["guidance"], "seed": seed,
        }

    @classmethod
    def initial_from_recipe(cls, recipe: dict[str, Any], remix_of: Any = None
                            ) -> dict[str, Any]:
        """Prefill the form with a video's recipe (Remix)."""
        keys = ("prompt", "negative_prompt", "num_frames", "steps", "guidance", "seed")
        initial: dict[str, Any] = {k: recipe[k] for k in keys if k in recipe}
        initial["preset"] = recipe.get("preset")
        if "width" in recipe and "height" in recipe:
            initial["size"] = _size_value(recipe["width"], recipe["height"])
        initial["remix_of"] = remix_of
        return initial

    def spec(self) -> JobSpec:
        """The validated job spec (call after is_valid); a missing seed was drawn in clean."""
        return self._spec


FIT_CHOICES = [
    ("crop", "Crop to fill the frame"),
    ("pad", "Fit inside, black bars"),
    ("stretch", "Stretch to the frame"),
]


def nearest_size(sizes: Sequence[tuple[int, int]], width: int, height: int
                 ) -> tuple[int, int] | None:
    """The allowed size whose aspect ratio is nearest the image's (on a log scale, so 2:1 and
    1:2 are as far from 1:1); the larger one on a tie."""
    if not sizes or width < 1 or height < 1:
        return None
    aspect = math.log(width / height)
    return min(sizes, key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), -s[0] * s[1]))


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

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        preset = self.selected_preset
        self.takes_end_image = preset is not None and preset.supports(Ability.END_IMAGE)
        if preset is not None and preset.requires_end_image:
            self.fields["end_file"].help_text = "This model animates between two images."

    def available_presets(self) -> list[Preset]:
        return presets_for(Task.I2V)

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

    def _image_ref(self, data: dict[str, Any], name: str, role: InputRole) -> InputRef | None:
        """The upload id for `name`: a file sent now is accepted first (and kept for a re-try
        of the form); else the id of an earlier upload."""
        file_field = name.replace("_image", "_file")  # start_image's file comes as start_file
        file = data.get(file_field)
        if file:
            try:
                upload = accept_upload(self.user, file)
            except UploadRefused as refused:
                self.add_error(file_field, refused.message)
                return None
            if upload.kind != "image":
                self.add_error(file_field, "Choose an image, not a video.")
                return None
            data[name] = upload.id
            # The re-rendered form carries the id, so the file is not sent twice.
            bound = cast(QueryDict, self.data).copy()
            bound[name] = str(upload.id)
            self.data = bound
        if not data.get(name):
            return None
        return InputRef(role, upload_id=data[name])

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError(
                "No image-to-video model is installed yet; ask an admin to add one.")
        refs = []
        start = self._image_ref(data, "start_image", InputRole.START_IMAGE)
        if start is None and "start_file" not in self.errors:
            self.add_error("start_file", "Choose the image the video starts from.")
        refs.append(start)
        # Given to a model that takes none, the spec refuses it (below) rather than dropping it.
        refs.append(self._image_ref(data, "end_image", InputRole.END_IMAGE))
        if self.errors:
            return data
        inputs = tuple(ref for ref in refs if ref is not None)
        self._spec = ImageToVideo(**self._common(data), fit=data["fit"], inputs=inputs)
        for field_name, message in self._spec.errors().items():
            target = {"start_image": "start_file",
                      "end_image": "end_file" if self.takes_end_image else None,
                      }.get(field_name, field_name)
            self.add_error(target if target in self.fields else None, message)
        return data
