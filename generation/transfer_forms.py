"""The studio's "Transfer motion" form: a source video (one of the user's gallery videos or
uploads), the control track to keep from it, how strictly, and the prompt for the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from generation.form_files import FileSlot
from generation.forms import TextToVideoForm
from generation.models import InputRole, Upload, UploadKind, Video
from generation.presets import Task
from generation.specs import InputRef, SpecError
from generation.submission import accept
from generation.uploads import VIDEO_ACCEPT
from worker.catalogue.calls import MAX_CONDITIONING_SCALE
from worker.catalogue.helpers import CONTROL_KINDS


def owned_source(user: Any, video_id: Any = None, upload_id: Any = None
                 ) -> Video | Upload | None:
    """The user's gallery video or video upload by id; None for anyone else's or no such."""
    try:
        if video_id:
            return Video.objects.filter(owner=user, pk=video_id).first()
        if upload_id:
            return Upload.objects.filter(owner=user, pk=upload_id,
                                         kind=UploadKind.VIDEO).first()
    except ValidationError:  # not a UUID
        return None
    return None


class TransferMotionForm(TextToVideoForm):
    task = "control"
    source_video = forms.UUIDField(required=False, widget=forms.HiddenInput)
    source_upload = forms.UUIDField(required=False, widget=forms.HiddenInput)
    source_file = forms.FileField(required=False, label="Source video",
                                  widget=forms.ClearableFileInput(attrs={"accept": VIDEO_ACCEPT}))
    control = forms.ChoiceField(label="Keep from the source", choices=list(CONTROL_KINDS.items()),
                                initial="depth")
    conditioning_scale = forms.FloatField(
        label="Follow it", min_value=0.0, max_value=MAX_CONDITIONING_SCALE, initial=1.0,
        help_text="How strictly the new video follows the control track: 1 as trained, less "
                  "for a looser take.",
        widget=forms.NumberInput(attrs={"step": 0.05}))
    start_s = forms.FloatField(label="Start at (seconds)", min_value=0.0, initial=0.0,
                               widget=forms.NumberInput(attrs={"step": 0.1}))
    # A video sent with the form, accepted as an upload by the view (generation.form_files).
    file_slots = (FileSlot("source_file", "source_upload", InputRole.SOURCE_VIDEO,
                           replaces=("source_video",)),)

    def _value(self, name: str) -> Any:
        return self.data.get(name) if self.is_bound else self.initial.get(name)

    def source(self) -> Video | Upload | None:
        """The source chosen so far, if it is the user's (for its preview and thumbnail)."""
        return owned_source(self.user, self._value("source_video"), self._value("source_upload"))

    def _source_ref(self, data: dict[str, Any]) -> InputRef | None:
        if "source_file" in self.errors:  # a file sent with the form was refused
            return None
        wanted_video, wanted_upload = data.get("source_video"), data.get("source_upload")
        if not wanted_video and not wanted_upload:
            self.add_error("source_file", "Choose the video whose motion to keep.")
            return None
        source = owned_source(self.user, wanted_video, wanted_upload)
        if source is None:
            self.add_error("source_file", "No such video of yours.")
            return None
        if isinstance(source, Video):
            return InputRef(InputRole.SOURCE_VIDEO, video_id=source.id)
        return InputRef(InputRole.SOURCE_VIDEO, upload_id=source.id)

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError(
                "No model that transfers motion is installed yet; ask an admin to add one.")
        self._show_refused_files()
        ref = self._source_ref(data)
        if self.errors or ref is None:
            return data
        options = {"control": data["control"], "conditioning_scale": data["conditioning_scale"],
                   "start_s": data["start_s"]}
        # The submission entrance holds the rules; the form shows its verdict by field.
        try:
            self._spec = accept(Task.CONTROL, self._submission(data, inputs=(ref,),
                                                               options=options),
                                self._preset_for(data))
        except SpecError as refused:
            for field_name, message in refused.errors.items():
                target = "source_file" if field_name == InputRole.SOURCE_VIDEO else field_name
                self.add_error(self._error_field(target), message)
        return data
