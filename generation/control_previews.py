"""Previews of a motion transfer's control track: asked for by the studio's form, made small on
the CPU by the models worker (`worker.control_preview`), kept per owner, source, kind and clip
so that asking again is free, and served to the owner only."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from generation.models import ControlPreview, JobStatus, Upload, Video
from webapp.celery import app as celery_app


def request_preview(user: User, source: Video | Upload, *, control: str, start_s: float,
                    num_frames: int, fps: int) -> ControlPreview:
    """The preview for this clip: an existing one, or a new one queued for the models worker
    (a failed one is queued again)."""
    key = {"owner": user, "control": control, "start_s": round(float(start_s), 3),
           "num_frames": num_frames, "fps": fps,
           "video": source if isinstance(source, Video) else None,
           "upload": source if isinstance(source, Upload) else None}
    with transaction.atomic():
        preview = ControlPreview.objects.select_for_update().filter(**key).first()
        if preview is None:
            try:
                with transaction.atomic():
                    preview = ControlPreview.objects.create(**key)
            except IntegrityError:  # asked twice at once: the other request made it
                return ControlPreview.objects.get(**key)
        elif preview.status == JobStatus.FAILED:
            preview.status, preview.message = JobStatus.QUEUED, ""
            preview.save(update_fields=["status", "message"])
        else:
            return preview
        preview_id = str(preview.id)
        transaction.on_commit(lambda: celery_app.send_task(
            "framecraft.control_preview", args=[preview_id],
            queue=settings.CELERY_MODELS_QUEUE))
    return preview
