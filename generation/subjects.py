"""Subjects as the studio reads them: which a user may use (their own and those granted to
them), `@name` in a prompt, the photos that become a job's reference images, and the request
that the models worker remove each new photo's background."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import User
from generation.models import CutoutStatus, InputRole, Subject, SubjectPhoto, Upload
from generation.specs import InputRef
from webapp.celery import app as celery_app
from worker.catalogue import helper_for

MAX_PHOTOS = 5
MAX_SUBJECTS_PER_JOB = 3
NAME_PATTERN = r"\w[\w-]{0,39}"
# `@name` where the @ starts a word; the name ends at anything but a word character or "-".
MENTION = re.compile(rf"(?<![\w@])@({NAME_PATTERN})(?![\w-])")
REMOVE_BACKGROUND_TASK = "framecraft.remove_background"


def usable_subjects(user: User) -> QuerySet[Subject]:
    """The user's own subjects and those granted to them."""
    return Subject.objects.filter(Q(owner=user) | Q(grants__user=user)).distinct()


def with_photos(subjects: QuerySet[Subject]) -> QuerySet[Subject]:
    return subjects.prefetch_related(Prefetch(
        "photos", queryset=SubjectPhoto.objects.select_related("original", "cutout")))


def subject_photo_uploads(user: User, subject_ids: Iterable[uuid.UUID | None]
                          ) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each of the subjects the user may use, the uploads its photos are made of."""
    ids = {i for i in subject_ids if i}
    if not ids:
        return {}
    photos: dict[uuid.UUID, set[uuid.UUID]] = {}
    rows = SubjectPhoto.objects.filter(subject__in=usable_subjects(user).filter(pk__in=ids))
    for subject_id, original, cutout in rows.values_list("subject_id", "original_id",
                                                          "cutout_id"):
        photos.setdefault(subject_id, set()).update(u for u in (original, cutout) if u)
    return photos


def resolve_mentions(user: User, prompt: str) -> tuple[list[Subject], list[str]]:
    """The subjects `@name` names in the prompt (the user's own first, then granted ones;
    case-insensitive), in order, and the names that match none."""
    found: list[Subject] = []
    unknown: list[str] = []
    usable = list(usable_subjects(user).select_related("owner"))
    for name in dict.fromkeys(MENTION.findall(prompt)):
        matches = sorted((s for s in usable if s.name.lower() == name.lower()),
                         key=lambda s: s.owner_id != user.pk)
        if not matches:
            unknown.append(name)
        elif matches[0] not in found:
            found.append(matches[0])
    return found, unknown


def plain_prompt(prompt: str) -> str:
    """The prompt as the model reads it: `@Rex` becomes `Rex`."""
    return MENTION.sub(lambda match: match.group(1), prompt)


def reference_refs(subjects: Sequence[Subject], limit: int) -> list[InputRef]:
    """The chosen version of the subjects' photos, at most `limit`, taken in turn from each
    subject so that every one of them is seen."""
    queues = [list(subject.photos.all()) for subject in subjects]
    refs: list[InputRef] = []
    while len(refs) < limit and any(queues):
        for subject, photos in zip(subjects, queues, strict=True):
            if photos and len(refs) < limit:
                photo = photos.pop(0)
                refs.append(InputRef(InputRole.REFERENCE, upload_id=photo.chosen.id,
                                     subject_id=subject.id))
    return refs


def snapshot(subject: Subject) -> dict[str, Any]:
    return {"name": subject.name, "kind": subject.kind}


def request_cutouts(photos: Sequence[SubjectPhoto]) -> None:
    """Ask the models worker to remove each photo's background (once the rows are committed);
    without an installed segmentation model, say so on the photos at once."""
    remover = helper_for("background")
    if not remover.is_installed():
        SubjectPhoto.objects.filter(pk__in=[p.pk for p in photos]).update(
            cutout_status=CutoutStatus.UNAVAILABLE, use_cutout=False,
            cutout_message=f"Background removal is not installed here (an admin installs "
                           f"{remover.id}); the original photo is used.")
        return
    for photo in photos:
        transaction.on_commit(functools.partial(_send_cutout_task, photo.pk))


def _send_cutout_task(photo_id: int) -> None:
    celery_app.send_task(REMOVE_BACKGROUND_TASK, args=[photo_id],
                         queue=settings.CELERY_MODELS_QUEUE)


@receiver(post_delete, sender=SubjectPhoto)
def _delete_cutout(sender: type[SubjectPhoto], instance: SubjectPhoto, **kwargs: Any) -> None:
    """A photo's cutout was made for it alone: it goes with the photo (the original stays in
    My uploads)."""
    if instance.cutout_id is not None:
        Upload.objects.filter(pk=instance.cutout_id).delete()
