"""The edit studio's forms, one per way to change a video the user has: restyle it, change
an area of it, reframe it, extend it. Each starts from a source video (one of the user's
gallery videos or video uploads, or a file sent with the form), trims it to a clip, and builds
its spec (generation.specs: VideoToVideo, EditVideo, ExtendVideo), which holds the rules."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from generation.form_files import FileSlot
from generation.forms import TextToVideoForm, nearest_size
from generation.models import InputRole, Upload, UploadKind, Video
from generation.presets import Preset, Task
from generation.sound import has_sound
from generation.specs import (
    MAX_EDGE_PX,
    EditVideo,
    ExtendVideo,
    InputRef,
    SourceFacts,
    SpecError,
    VideoJob,
    VideoToVideo,
    clip_frame_count,
    source_facts,
)
from generation.submission import accept
from generation.uploads import VIDEO_ACCEPT

EDIT_TASK_CHOICES = [("v2v", "Restyle"), ("edit", "Change an area"), ("reframe", "Reframe"),
                     ("extend", "Extend")]


class VideoEditForm(TextToVideoForm):
    """Restyle: the whole clip moved towards the prompt, `strength` of the way."""

    task = "v2v"
    spec_class: type[VideoJob] = VideoToVideo
    partial = "generation/partials/edit_form.html"
    page = "generation/edit.html"
    kept_after_submit: tuple[str, ...] = ("preset", "prompt", "negative_prompt", "source_video",
                         "source_upload", "trim_start", "trim_end")
    source_video = forms.UUIDField(required=False, widget=forms.HiddenInput)
    source_upload = forms.UUIDField(required=False, widget=forms.HiddenInput)
    source_file = forms.FileField(
        required=False, label="Video to edit",
        widget=forms.ClearableFileInput(attrs={"accept": VIDEO_ACCEPT}))
    trim_start = forms.FloatField(min_value=0, required=False, label="Start at (s)")
    trim_end = forms.FloatField(min_value=0, required=False, label="End at (s)",
                                help_text="Empty: the video's end.")
    strength = forms.FloatField(
        min_value=0.05, max_value=1.0, label="Strength",
        help_text="How far to move from the source: low keeps it, 1 remakes it.",
        widget=forms.NumberInput(attrs={"type": "range", "step": 0.05}))

    # Files sent with the form, accepted as uploads by the view (generation.form_files).
    file_slots: tuple[FileSlot, ...] = (
        FileSlot("source_file", "source_upload", InputRole.SOURCE_VIDEO,
                 replaces=("source_video",)),)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        preset = self.selected_preset
        if preset is not None and "strength" in self.fields:
            if preset.pipeline_class_for(Task.V2V) == "WanVACEPipeline":
                # VACE restyles through its control video, with no strength to set.
                del self.fields["strength"]
            else:
                self.fields["strength"].widget.attrs.update(min=0.05, max=1)
                self.initial.setdefault("strength", preset.default_strength)

    def task_choices(self) -> list[tuple[str, str]]:
        return EDIT_TASK_CHOICES

    def sound_offered(self) -> bool:
        return super().sound_offered() or has_sound(self.source())

    def sound_help(self) -> str:
        return "The source's sound, kept in step with the clip; Silent leaves it out."

    # --- The source --------------------------------------------------------------------------

    def _value(self, name: str) -> Any:
        return self.data.get(name) if self.is_bound else self.initial.get(name)

    def source(self) -> Video | Upload | None:
        """The chosen source, if it is the user's: a gallery video or a video upload."""
        if self.user is None:
            return None
        try:
            if video_id := self._value("source_video"):
                return Video.objects.filter(owner=self.user, pk=video_id).first()
            if upload_id := self._value("source_upload"):
                return Upload.objects.filter(owner=self.user, pk=upload_id,
                                             kind=UploadKind.VIDEO).first()
        except ValidationError:  # not a UUID
            return None
        return None

    def source_ref(self) -> InputRef | None:
        source = self.source()
        if isinstance(source, Video):
            return InputRef(InputRole.SOURCE_VIDEO, video_id=source.id)
        if isinstance(source, Upload):
            return InputRef(InputRole.SOURCE_VIDEO, upload_id=source.id)
        return None

    def source_facts(self) -> SourceFacts | None:
        ref = self.source_ref()
        return None if ref is None else source_facts(ref)

    def _apply_limits(self, preset: Preset) -> None:
        super()._apply_limits(preset)
        if self.is_bound:
            return
        facts = self.source_facts()
        if facts is None:
            return
        if "size" not in self._kept:
            best = self.best_size(preset, facts)
            if best is not None:
                self.initial["size"] = f"{best[0]}x{best[1]}"
        if "num_frames" not in self._kept:
            self.initial["num_frames"] = self.best_frames(preset, facts)

    def best_size(self, preset: Preset, facts: SourceFacts) -> tuple[int, int] | None:
        return nearest_size(preset.sizes, facts.width, facts.height)

    def best_frames(self, preset: Preset, facts: SourceFacts) -> int:
        """The longest length the whole clip (up to the model's limit) gives."""
        frames = clip_frame_count(0.0, facts.duration, preset.fps)
        fitting = [n for n in preset.frame_choices() if n <= min(frames, preset.max_input_frames)]
        return fitting[-1] if fitting else preset.frame_choices()[0]

    # --- The spec ----------------------------------------------------------------------------

    def extra_inputs(self, data: dict[str, Any]) -> list[InputRef]:
        return []

    def extra_params(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"strength": data.get("strength")}

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        if self.selected_preset is None:
            raise forms.ValidationError(
                "No model that can do this is installed yet; ask an admin to add one.")
        self._show_refused_files()
        source = self.source_ref()
        if source is None and "source_file" not in self.errors:
            chosen = self._value("source_video") or self._value("source_upload")
            self.add_error("source_file", "There is no such video of yours." if chosen
                           else "Choose the video to edit.")
        extra = self.extra_inputs(data)
        if self.errors:
            return data
        assert source is not None
        options = {"trim_start": data.get("trim_start") or 0.0,
                   "trim_end": data.get("trim_end"), **self.extra_params(data)}
        # The submission entrance holds the rules (the inputs' owner and kinds, the spec's);
        # the form turns its fields into a submission and shows the verdict by field.
        try:
            self._spec = accept(self.spec_class.task, self._submission(
                data, inputs=(source, *extra), options=options), self._preset_for(data))
        except SpecError as refused:
            where = {InputRole.SOURCE_VIDEO.value: "source_file",
                     InputRole.MASK.value: "mask_file"}
            for field, message in refused.errors.items():
                self.add_error(self._error_field(where.get(field, field)), message)
        return data


class MaskedEditForm(VideoEditForm):
    """Change an area (or keep it and change the rest), marked on a frame in the browser or
    given as a mask image or video the size of the source."""

    task = "edit"
    spec_class = EditVideo
    strength = None  # type: ignore[assignment]
    mode = forms.ChoiceField(label="The marked area", initial="change", choices=[
        ("change", "Change this area"), ("keep", "Keep this area, change the rest")])
    mask = forms.UUIDField(required=False, widget=forms.HiddenInput)
    mask_file = forms.FileField(
        required=False, label="Mask",
        help_text=("Mark the area on the video's frame above, or upload a mask the size of the "
                   "video: white marks the area, black the rest; a mask video covers every "
                   "frame. A video's compression blurs edges, so its pixels count as marked "
                   "from mid-grey up."),
        widget=forms.ClearableFileInput(attrs={
            "accept": f"image/png,image/jpeg,image/webp,{VIDEO_ACCEPT}", "data-mask-input": ""}))
    grow = forms.IntegerField(min_value=0, max_value=MAX_EDGE_PX, initial=0,
                              label="Grow (px)", help_text="Widen the area to change.")
    feather = forms.IntegerField(min_value=0, max_value=MAX_EDGE_PX, initial=8,
                                 label="Feather (px)", help_text="Soften the edge of the change.")
    kept_after_submit: tuple[str, ...] = (*VideoEditForm.kept_after_submit, "mode", "grow",
                                          "feather")
    # A mask drawn for a refused job is of no use to anyone: it is not kept for a re-try.
    file_slots = (*VideoEditForm.file_slots,
                  FileSlot("mask_file", "mask", InputRole.MASK, kept_if_refused=False,
                           metadata={"mask": True}))

    def extra_params(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"mode": data["mode"], "grow": data["grow"], "feather": data["feather"]}

    def mask_upload(self) -> Upload | None:
        mask_id = self._value("mask")
        if not mask_id or self.user is None:
            return None
        try:
            return Upload.objects.filter(owner=self.user, pk=mask_id).first()
        except ValidationError:
            return None

    def extra_inputs(self, data: dict[str, Any]) -> list[InputRef]:
        mask = self.mask_upload()
        if data.get("mask") and mask is None:
            self.add_error("mask_file", "There is no such mask of yours.")
        return [] if mask is None else [InputRef(InputRole.MASK, upload_id=mask.id)]


class ReframeForm(VideoEditForm):
    """Another aspect ratio: the source where the user places it, the rest made (VACE)."""

    task = "reframe"
    spec_class = EditVideo
    strength = None  # type: ignore[assignment]
    anchor = forms.ChoiceField(label="Place the video", initial="centre", choices=[
        ("start", "Left or top"), ("centre", "Centre"), ("end", "Right or bottom")])
    grow = forms.IntegerField(min_value=0, max_value=MAX_EDGE_PX, initial=4,
                              label="Redraw the seam (px)")
    feather = forms.IntegerField(min_value=0, max_value=MAX_EDGE_PX, initial=4,
                                 label="Feather (px)")
    kept_after_submit: tuple[str, ...] = (*VideoEditForm.kept_after_submit, "anchor")

    def best_size(self, preset: Preset, facts: SourceFacts) -> tuple[int, int] | None:
        # The offered size least like the source's shape: that is what reframing is for.
        aspect = math.log(facts.width / facts.height)
        return max(preset.sizes, key=lambda s: (abs(math.log(s[0] / s[1]) - aspect),
                                                s[0] * s[1]))

    def extra_params(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"mode": "reframe", "anchor": data["anchor"], "grow": data["grow"],
                "feather": data["feather"]}


class ExtendForm(VideoEditForm):
    """Continue the clip past its end (its end time: the video's end, or a chosen moment)."""

    task = "extend"
    spec_class = ExtendVideo
    strength = None  # type: ignore[assignment]
    context_frames = forms.TypedChoiceField(label="Context", coerce=int)
    join = forms.TypedChoiceField(label="The result", initial="1", coerce=lambda v: v == "1",
                                  choices=[("1", "Joined to the video"),
                                           ("0", "The continuation on its own")])
    kept_after_submit: tuple[str, ...] = (*VideoEditForm.kept_after_submit, "context_frames",
                                          "join")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["trim_end"].label = "Continue from (s)"
        self.fields["trim_end"].help_text = "Empty: from the video's end."
        self.fields["num_frames"].label = "Frames made (context included)"

    def _apply_limits(self, preset: Preset) -> None:
        super()._apply_limits(preset)
        choices = [n for n in preset.frame_choices() if n < preset.max_frames][:6]
        self._choice("context_frames").choices = [
            (n, f"the last {n} frames ({preset.duration_s(n):.1f} s)") for n in choices]
        if not self.is_bound:
            default = next((n for n in choices if preset.duration_s(n) >= 0.6), choices[0])
            self.initial.setdefault("context_frames", default)
            self.initial["num_frames"] = preset.default_frames

    def best_frames(self, preset: Preset, facts: SourceFacts) -> int:
        return preset.default_frames

    def sound_help(self) -> str:
        if self.selected_preset is not None and self.selected_preset.makes_sound:
            return ("Joined, the video's sound crossfades into the sound the model makes; "
                    "Silent leaves both out.")
        return ("This model makes no sound: joined, the video keeps its own and falls silent "
                "where the continuation starts (kept separate, the continuation is silent). "
                "Silent leaves it out.")

    def extra_params(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"context_frames": data["context_frames"], "join": data["join"]}


EDIT_FORMS: dict[str, type[VideoEditForm]] = {
    form.task: form for form in (VideoEditForm, MaskedEditForm, ReframeForm, ExtendForm)}
