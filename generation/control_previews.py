"""Previews of a motion transfer's control track: asked for by the studio's form, made small on
the CPU by the models worker (`worker.control_preview`), kept per owner, source, kind and clip
so that asking again is free, and served to the owner only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from generation.media import delete_after_commit
from generation.models import ControlPreview, JobStatus, Upload, Video
from webapp.celery import app as celery_app

# A preview still not drawn after this long lost its worker (or its message): ask again.
STALE_AFTER = timedelta(minutes=10)


def request_preview(user: User, source: Video | Upload, *, control: str, start_s: float,
                    num_frames: int, fps: int) -> ControlPreview:
    """The preview for this clip: an existing one, or a new one queued for the models worker
    (a failed one, or one left undrawn for STALE_AFTER, is queued again)."""
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
        elif preview.status == JobStatus.FAILED or (
                preview.status != JobStatus.SUCCEEDED
                and preview.created_at < timezone.now() - STALE_AFTER):
            preview.status, preview.message = JobStatus.QUEUED, ""
            preview.created_at = timezone.now()
            preview.save(update_fields=["status", "message", "created_at"])
        else:
            return preview
        preview_id = str(preview.id)
        transaction.on_commit(lambda: celery_app.send_task(
            "framecraft.control_preview", args=[preview_id],
            queue=settings.CELERY_MODELS_QUEUE))
    return preview


@receiver(post_delete, sender=ControlPreview)
def _delete_file(sender: type[ControlPreview], instance: ControlPreview, **kwargs: Any) -> None:
    """Remove a deleted preview's file (its source was deleted), once that is committed."""
    delete_after_commit(instance.file)
