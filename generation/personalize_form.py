"""With a subject: up to three subjects picked in the form or named `@name` in the prompt;
the chosen version of their photos become the job's reference images (Wan VACE)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from generation.forms import TextToVideoForm
from generation.models import Subject
from generation.presets import Preset, Task, presets_for
from generation.specs import Personalize
from generation.subjects import (
    MAX_SUBJECTS_PER_JOB,
    plain_prompt,
    reference_refs,
    resolve_mentions,
    snapshot,
    usable_subjects,
    with_photos,
)


class SubjectChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        subject = cast(Subject, obj)
        return f"@{subject.name} ({subject.get_kind_display().lower()})"


class PersonalizeForm(TextToVideoForm):
    task = "personalize"
    subjects = SubjectChoiceField(
        queryset=Subject.objects.none(), required=False, label="Subjects",
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Up to {MAX_SUBJECTS_PER_JOB}; or write @name in the prompt.")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["subjects"])
        if user is not None:
            field.queryset = usable_subjects(user).order_by("name")
        self.fields["prompt"].widget.attrs["placeholder"] = "@Rex runs along a beach at dawn"

    def available_presets(self) -> list[Preset]:
        """Installed presets that take reference images."""
        return presets_for(Task.PERSONALIZE)

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError("No model that takes reference photos is installed "
                                        "yet; ask an admin to add one.")
        if self.errors:
            return data
        chosen = self._chosen_subjects(data)
        if self.errors:
            return data
        limit = self.selected_preset.max_reference_images
        refs = reference_refs(chosen, limit)
        self._spec = Personalize(**{**self._common(data), "prompt": plain_prompt(
            data["prompt"].strip())}, inputs=tuple(refs),
            subjects=tuple(snapshot(subject) for subject in chosen))
        for field, message in self._spec.errors().items():
            self.add_error("subjects" if field == "reference" else
                           field if field in self.fields else None, message)
        return data

    def _chosen_subjects(self, data: dict[str, Any]) -> list[Subject]:
        mentioned, unknown = resolve_mentions(self.user, data["prompt"])
        if unknown:
            names = ", ".join(f"@{name}" for name in unknown)
            self.add_error("prompt", f"You have no subject called {names} (nor one shared "
                                     "with you); see your Subjects page for their names.")
        ids = list(dict.fromkeys([s.pk for s in data.get("subjects") or []]
                                 + [s.pk for s in mentioned]))
        if not ids and not unknown:
            self.add_error("subjects", "Pick a subject, or write @name in the prompt.")
        elif len(ids) > MAX_SUBJECTS_PER_JOB:
            self.add_error("subjects", f"Use at most {MAX_SUBJECTS_PER_JOB} subjects in one "
                                       f"video; this asks for {len(ids)}.")
        found = with_photos(usable_subjects(self.user)).in_bulk(ids)
        chosen = [found[pk] for pk in ids if pk in found]
        for subject in chosen:
            if not subject.photos.all():
                self.add_error("subjects", f"@{subject.name} has no photos yet.")
        return chosen
