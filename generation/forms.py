"""The generation form: defaults and limits come from the chosen preset."""

from __future__ import annotations

import secrets
from typing import Any, cast

from django import forms

from generation.presets import MAX_SEED, Preset, text_to_video_presets
from generation.specs import MAX_PROMPT_CHARS, TextToVideo


def _size_value(width: int, height: int) -> str:
    return f"{width}x{height}"


class TextToVideoForm(forms.Form):
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.presets = {preset.id: preset for preset in text_to_video_presets()}
        self._choice("preset").choices = [(p.id, p.label) for p in self.presets.values()]
        self.selected_preset = self._selected_preset()
        if self.selected_preset is not None:
            self._apply_limits(self.selected_preset)

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
        width, height = (int(x) for x in data["size"].split("x"))
        seed = data["seed"] if data["seed"] is not None else secrets.randbelow(MAX_SEED + 1)
        # The spec holds the rules (the catalogue's limits); the form only shows its verdict.
        self._spec = TextToVideo(
            preset=data["preset"], prompt=data["prompt"].strip(),
            negative_prompt=data["negative_prompt"].strip(), width=width, height=height,
            num_frames=data["num_frames"], steps=data["steps"], guidance=data["guidance"],
            seed=seed,
        )
        for field, message in self._spec.errors().items():
            self.add_error(field if field in self.fields else None, message)
        return data

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

    def spec(self) -> TextToVideo:
        """The validated job spec (call after is_valid); a missing seed was drawn in clean."""
        return self._spec
