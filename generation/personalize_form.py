"""With a subject: up to three subjects picked in the form or named `@name` in the prompt;
the chosen version of their photos become the job's reference images (Wan VACE)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from generation.forms import TextToVideoForm
from generation.models import InputRole, Subject, Upload, Video
from generation.presets import Task
from generation.specs import InputRef, SpecError
from generation.subject_forms import VideoChoiceField
from generation.subjects import (
    MAX_SUBJECTS_PER_JOB,
    choose_subjects,
    plain_prompt,
    reference_refs,
    snapshot,
    usable_subjects,
)
from generation.submission import accept


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
        super().__init__(*args, user=user, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["subjects"])
        if user is not None:
            field.queryset = usable_subjects(user).order_by("name")
        self.fields["prompt"].widget.attrs["placeholder"] = "@Rex runs along a beach at dawn"

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
        self._accept(Task.PERSONALIZE, data, chosen, reference_refs(chosen, limit))
        return data

    def _accept(self, task: Task, data: dict[str, Any], chosen: list[Subject],
                inputs: list[InputRef]) -> None:
        """The job through the submission entrance: the prompt as the model reads it (`@Rex`
        as Rex), the subjects' photos as its references; a refusal shown by field."""
        submission = self._submission(
            {**data, "prompt": plain_prompt(data["prompt"])}, inputs=tuple(inputs),
            subjects=tuple(snapshot(subject) for subject in chosen))
        try:
            self._spec = accept(task, submission, self._preset_for(data))
        except SpecError as refused:
            for field, message in refused.errors.items():
                self.add_error("subjects" if field == "reference" else
                               self._error_field(field), message)

    def _chosen_subjects(self, data: dict[str, Any]) -> list[Subject]:
        """The subjects picked and named `@name` (as the API reads them), or the problems on
        the prompt and the subjects field."""
        picked = [subject.pk for subject in data.get("subjects") or []]
        chosen, problems = choose_subjects(self.user, data["prompt"], picked)
        if not chosen and not problems:
            problems["subjects"] = "Pick a subject, or write @name in the prompt."
        for field, message in problems.items():
            self.add_error(field, message)
        return chosen


class SwapForm(PersonalizeForm):
    """Swap a subject into a video: the masked part of one of the user's videos (the mask an
    image or video upload at the video's size, white where the subject goes) is repainted as
    the subjects, from their photos. An edit with references; the masked-edit tools proper
    live with the edit form."""

    task = "swap"
    source_video = VideoChoiceField(queryset=Video.objects.none(), label="Video",
                                    empty_label=None)
    mask = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["source_video"])
        if user is not None:
            field.queryset = Video.objects.owned_by(user).only("id", "prompt", "created_at")

    def mask_upload(self) -> Upload | None:
        value = self.data.get("mask") if self.is_bound else self.initial.get("mask")
        if not value or self.user is None:
            return None
        try:
            return Upload.objects.filter(owner=self.user, pk=value).first()
        except ValidationError:
            return None

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError("No model that swaps subjects into videos is installed "
                                        "yet; ask an admin to add one.")
        if self.errors:
            return data
        chosen = self._chosen_subjects(data)
        mask = self.mask_upload()
        if mask is None:
            self.add_error("mask", "Give a mask: an image or video of yours at the "
                                   "video's size, white where the subject goes.")
        if self.errors:
            return data
        assert mask is not None
        refs = [InputRef(InputRole.SOURCE_VIDEO, video_id=data["source_video"].id),
                InputRef(InputRole.MASK, upload_id=mask.id),
                *reference_refs(chosen, self.selected_preset.max_reference_images)]
        # An edit with references: the masked area repainted as the subjects.
        self._accept(Task.EDIT, data, chosen, refs)
        return data
