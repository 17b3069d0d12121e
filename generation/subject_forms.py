"""The subject form (create and edit): a name, a kind, and photos from the drop zone (upload
ids), files sent with the form, or a frame of one of the user's videos; 1 to 5 in all. The
form checks them; `accept_photos`, called once it is valid, stores the files and the frame."""

from __future__ import annotations

import io
import uuid
from typing import Any

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.validators import RegexValidator
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from generation.inputs import frame_at
from generation.models import Subject, SubjectKind, SubjectPhoto, Upload, UploadKind, Video
from generation.subjects import MAX_PHOTOS, NAME_PATTERN, request_cutouts
from generation.uploads import UploadRefused, accept_upload


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(file, initial) for file in files]


class VideoChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.prompt[:50] or 'Untitled'} ({obj.created_at:%d %b %Y})"


class SubjectForm(forms.Form):
    name = forms.CharField(
        max_length=40, validators=[RegexValidator(
            rf"^{NAME_PATTERN}$", "Use letters, digits, - and _ only, no spaces: you write "
                                  "it as @name in a prompt.")],
        help_text="Write @name in a prompt to use it.")
    kind = forms.ChoiceField(choices=SubjectKind.choices)
    photo_files = MultipleFileField(
        required=False, label="Photos",
        widget=MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}))
    from_video = VideoChoiceField(queryset=Video.objects.none(), required=False,
                                  label="Or a frame of one of your videos",
                                  empty_label="(none)")
    at_seconds = forms.FloatField(min_value=0, required=False, initial=0.0,
                                  label="Frame at (seconds)")

    def __init__(self, *args: Any, owner: User, subject: Subject | None = None,
                 **kwargs: Any) -> None:
        if subject is not None:
            kwargs.setdefault("initial", {"name": subject.name, "kind": subject.kind})
        super().__init__(*args, **kwargs)
        self.owner, self.subject = owner, subject
        self.photo_uploads: list[Upload] = []
        from_video = self.fields["from_video"]
        assert isinstance(from_video, forms.ModelChoiceField)
        from_video.queryset = Video.objects.owned_by(owner).only("id", "prompt", "created_at")

    @property
    def existing_photos(self) -> int:
        return self.subject.photos.count() if self.subject is not None else 0

    def picked_ids(self) -> list[str]:
        """Upload ids from the drop zones, in order, without repeats."""
        values = self.data.getlist("photo") if hasattr(self.data, "getlist") else []
        return list(dict.fromkeys(v for v in values if v))

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        taken = Subject.objects.filter(owner=self.owner).annotate(lower=Lower("name")).filter(
            lower=name.lower())
        if self.subject is not None:
            taken = taken.exclude(pk=self.subject.pk)
        if taken.exists():
            raise forms.ValidationError(f"You already have a subject called {name}.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        picked = self._picked_uploads()
        files = data.get("photo_files") or []
        frame = 1 if data.get("from_video") else 0
        total = self.existing_photos + len(picked) + len(files) + frame
        if total < 1:
            self.add_error("photo_files", "Add at least one photo of the subject.")
        elif total > MAX_PHOTOS:
            self.add_error("photo_files", f"A subject has at most {MAX_PHOTOS} photos; this "
                                          f"would make {total}.")
        self.photo_uploads = picked
        return data

    def _picked_uploads(self) -> list[Upload]:
        ids = self.picked_ids()
        try:
            wanted = [uuid.UUID(value) for value in ids]
        except ValueError:
            self.add_error("photo_files", "That photo is not one of your images.")
            return []
        found = Upload.objects.in_bulk(wanted)
        uploads = [found.get(pk) for pk in wanted]
        if any(u is None or u.owner_id != self.owner.pk or u.kind != UploadKind.IMAGE
               for u in uploads):
            self.add_error("photo_files", "That photo is not one of your images.")
            return []
        return [u for u in uploads if u is not None]

    def save(self) -> Subject:
        """Create or update the subject with the new photos (after `accept_photos`); their
        backgrounds are removed on the models worker."""
        data = self.cleaned_data
        with transaction.atomic():
            subject = self.subject or Subject(owner=self.owner)
            subject.name, subject.kind = data["name"], data["kind"]
            subject.updated_at = timezone.now()
            subject.save()
            start = self.existing_photos
            photos = SubjectPhoto.objects.bulk_create(
                SubjectPhoto(subject=subject, original=upload, position=start + index)
                for index, upload in enumerate(self.photo_uploads))
            request_cutouts(photos)
        return subject


def accept_photos(form: SubjectForm) -> bool:
    """After the form is valid: the files sent with it and the video's frame become the
    owner's image uploads, beside the photos picked by id. On a refusal none of them is kept
    (they must not outlive a refused form) and the form shows why; False then."""
    data = form.cleaned_data
    files = data.get("photo_files") or []
    made: list[Upload] = []
    try:
        for file in files:
            made.append(_accepted(form.owner, file))
        if data.get("from_video"):
            made.append(_frame(form.owner, data["from_video"], data.get("at_seconds") or 0.0))
    except UploadRefused as refused:
        for upload in made:
            upload.delete()
        form.add_error("photo_files" if files else "from_video", refused.message)
        return False
    form.photo_uploads = [*form.photo_uploads, *made]
    return True


def _accepted(owner: User, file: UploadedFile) -> Upload:
    upload = accept_upload(owner, file)
    if upload.kind != UploadKind.IMAGE:
        upload.delete()
        raise UploadRefused(f"{file.name} is a video; a subject's photos are images (pick "
                            "a frame of a video instead).")
    return upload


def _frame(owner: User, video: Video, seconds: float) -> Upload:
    buffer = io.BytesIO()
    try:
        frame_at(video.file, seconds).save(buffer, "PNG")
    except (LookupError, OSError, ValueError) as problem:
        raise UploadRefused(f"That video's frame could not be read ({problem}).") from None
    name = f"frame-{str(video.id)[:8]}-{seconds:g}s.png"
    upload = accept_upload(owner, SimpleUploadedFile(name, buffer.getvalue(), "image/png"))
    upload.metadata = {**upload.metadata, "frame_of": str(video.id), "frame": seconds}
    upload.save(update_fields=["metadata"])
    return upload
