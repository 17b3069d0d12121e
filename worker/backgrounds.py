"""Removing a subject photo's background, on the models worker: the segmentation model's
cutout (the subject on white, framed on the suggested crop) becomes an upload of the photo's
owner, through `accept_upload` like any other image, and the photo's suggested crop is kept."""

from __future__ import annotations

import io
import logging

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageOps

from generation.models import CutoutStatus, SubjectPhoto, Upload
from generation.uploads import UploadRefused, accept_upload
from worker.catalogue import helper_for
from worker.editing.helpers import helper_folder
from worker.runtime.background import NoSubjectFound, remove_background

log = logging.getLogger("framecraft.worker")


def make_cutout(photo_id: int) -> str:
    """Make the photo's cutout; return the photo's cutout status ("gone" if it was deleted)."""
    photo = SubjectPhoto.objects.select_related("original", "subject").filter(
        pk=photo_id).first()
    if photo is None:
        return "gone"
    remover = helper_for("background")
    folder = helper_folder(remover)  # a demo remover's is written on first use
    if folder is None:
        return _finish(photo_id, CutoutStatus.UNAVAILABLE,
                       f"Background removal is not installed here (an admin installs "
                       f"{remover.id}); the original photo is used.")
    try:
        with photo.original.file.open("rb") as stream, Image.open(stream) as image:
            cutout = remove_background(ImageOps.exif_transpose(image), folder)
    except NoSubjectFound as nothing:
        return _finish(photo_id, CutoutStatus.FAILED, f"{nothing} The original is used.")
    except Exception:
        log.exception("background removal of subject photo %s failed", photo_id)
        return _finish(photo_id, CutoutStatus.FAILED,
                       "The background could not be removed; the original is used.")
    buffer = io.BytesIO()
    cutout.image.save(buffer, "PNG")
    name = f"{photo.subject.name}-{photo.position + 1}-cutout.png"
    try:
        upload = accept_upload(photo.subject.owner,
                               SimpleUploadedFile(name, buffer.getvalue(), "image/png"))
    except UploadRefused as refused:
        return _finish(photo_id, CutoutStatus.FAILED, refused.message)
    upload.metadata = {**upload.metadata, "cutout_of": str(photo.original_id),
                       "crop": list(cutout.crop)}
    upload.save(update_fields=["metadata"])
    done = SubjectPhoto.objects.filter(pk=photo_id).update(
        cutout=upload, cutout_status=CutoutStatus.READY, cutout_message="",
        crop=list(cutout.crop))
    if not done:  # the photo was removed meanwhile: its cutout belongs to nothing
        Upload.objects.filter(pk=upload.pk).delete()
        return "gone"
    return CutoutStatus.READY


def _finish(photo_id: int, status: CutoutStatus, message: str) -> str:
    SubjectPhoto.objects.filter(pk=photo_id).update(cutout_status=status, use_cutout=False,
                                                    cutout_message=message[:300])
    return status
