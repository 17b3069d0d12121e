"""The storyboard's forms: its title, and a shot (the studio's choices, from the person's own
library)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from generation.models import Lora, Upload, UploadKind
from generation.presets import MAX_SEED, Task, get_preset, presets_for
from generation.specs import MAX_PROMPT_CHARS
from generation.subjects import usable_subjects
from generation.submission import draw_seed
from storyboards.models import MAX_TITLE, Shot, Storyboard, Transition
from storyboards.render import shot_problems
from worker.catalogue.loras import MAX_STRENGTH

SHOT_TASKS = (Task.T2V, Task.I2V, Task.PERSONALIZE)


def shot_presets() -> list[tuple[str, str]]:
    """Installed models that can make a shot (from a prompt, an image or a subject)."""
    seen: dict[str, str] = {}
    for task in SHOT_TASKS:
        for preset in presets_for(task):
            # A shot has no end image to give a model that needs one.
            if not preset.requires_end_image:
                seen.setdefault(preset.id, preset.label)
    return list(seen.items())


def default_preset() -> str | None:
    """A model that can both start a shot from a prompt and continue one from a frame."""
    both = [p.id for p in presets_for(Task.T2V) if p.can(Task.I2V)]
    offered = [preset_id for preset_id, _ in shot_presets()]
    return next(iter(both or offered), None)


class StoryboardForm(forms.ModelForm):
    class Meta:
        model = Storyboard
        fields = ("title",)
        labels = {"title": "Title"}
        error_messages = {"title": {"required": "Give the storyboard a title."}}

    def clean_title(self) -> str:
        title = " ".join(str(self.cleaned_data["title"]).split())
        if not title:
            raise forms.ValidationError("Give the storyboard a title.")
        return title[:MAX_TITLE]


class ShotForm(forms.ModelForm):
    seed = forms.IntegerField(required=False, min_value=0, max_value=MAX_SEED,
                              help_text="The same seed and settings make the same shot; "
                                        "leave empty for a new one.")

    class Meta:
        model = Shot
        fields = ("prompt", "preset", "num_frames", "transition", "start_image", "subject",
                  "lora", "lora_strength", "seed")
        labels = {"num_frames": "Length (frames)", "preset": "Model", "lora": "LoRA",
                  "transition": "Starts with", "lora_strength": "LoRA strength"}
        widgets = {"prompt": forms.Textarea(attrs={"rows": 2}),
                   "transition": forms.RadioSelect}
        error_messages = {"prompt": {"required": "Write what the shot should show."}}

    def __init__(self, *args: Any, owner: Any, first: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner, self.first = owner, first
        # A new shot has its id (a UUID default) before it is saved: ask whether it is stored.
        self.is_new = self.instance._state.adding
        prefix = "new-shot" if self.is_new else f"shot-{self.instance.pk}"
        self.auto_id = f"{prefix}-%s"
        self.fields["preset"] = forms.ChoiceField(label="Model", choices=shot_presets())
        self.fields["prompt"].widget.attrs["maxlength"] = str(MAX_PROMPT_CHARS)
        library = {"start_image": Upload.objects.filter(owner=owner, kind=UploadKind.IMAGE)
                   .order_by("-created_at"),
                   "subject": usable_subjects(owner).order_by("name"),
                   "lora": Lora.objects.filter(owner=owner).order_by("name")}
        for name, queryset in library.items():
            field = cast(forms.ModelChoiceField, self.fields[name])
            field.queryset, field.empty_label = queryset, "None"
        self.fields["start_image"].help_text = "One of your uploads (a cut only)."
        self.fields["subject"].help_text = ("The same subject in several shots keeps a "
                                            "character the same.")
        self.fields["lora_strength"].widget.attrs.update(
            {"min": "0.05", "max": f"{MAX_STRENGTH:g}", "step": "0.05"})
        if first:
            self.fields["transition"].help_text = "The first shot always starts fresh."
        if self.is_new:
            preset = default_preset()
            self.initial.setdefault("preset", preset)
            if preset is not None:
                self.initial.setdefault("num_frames", get_preset(preset).default_frames)
            self.initial.setdefault("transition", Transition.CONTINUE if not first
                                    else Transition.CUT)

    def clean_prompt(self) -> str:
        prompt = str(self.cleaned_data["prompt"]).strip()
        if not prompt:
            raise forms.ValidationError("Write what the shot should show.")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise forms.ValidationError(f"Keep it under {MAX_PROMPT_CHARS} characters.")
        return prompt

    def clean_lora_strength(self) -> float:
        strength = float(self.cleaned_data["lora_strength"])
        if not 0 < strength <= MAX_STRENGTH:
            raise forms.ValidationError(f"A LoRA's strength is above 0 and at most "
                                        f"{MAX_STRENGTH:g}.")
        return strength

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("seed") is None:
            data["seed"] = draw_seed() if self.is_new else self.instance.seed
        for field, problem in shot_problems(
                data["preset"], data["num_frames"], data["transition"],
                data.get("start_image") is not None, data.get("subject") is not None,
                data.get("lora"), self.first).items():
            self.add_error(field, problem)
        return data
