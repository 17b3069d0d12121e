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
from generation.models import (
    CutoutStatus,
    InputRole,
    Subject,
    SubjectGrant,
    SubjectPhoto,
    Upload,
)
from generation.specs import InputRef
from generation.text import text_problem
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


def choose_subjects(user: User, prompt: str, picked: Iterable[uuid.UUID]
                    ) -> tuple[list[Subject], dict[str, str]]:
    """The subjects a job uses, with their photos: those picked and those `@name` names in the
    prompt (own or granted), in that order; and the problems, keyed "prompt" and "subjects"."""
    mentioned, unknown = resolve_mentions(user, prompt)
    problems: dict[str, str] = {}
    if unknown:
        names = ", ".join(f"@{name}" for name in unknown)
        problems["prompt"] = (f"You have no subject called {names} (nor one shared with you); "
                              "see your Subjects page for their names.")
    ids = list(dict.fromkeys([*picked, *(s.pk for s in mentioned)]))
    if len(ids) > MAX_SUBJECTS_PER_JOB:
        problems["subjects"] = (f"Use at most {MAX_SUBJECTS_PER_JOB} subjects in one video; "
                                f"this asks for {len(ids)}.")
    found = with_photos(usable_subjects(user)).in_bulk(ids)
    chosen = [found[pk] for pk in ids if pk in found]
    if len(chosen) < len(ids) and "subjects" not in problems:
        problems["subjects"] = "That subject is not one of yours, nor shared with you."
    for subject in chosen:
        if not subject.photos.all():
            problems.setdefault("subjects", f"@{subject.name} has no photos yet.")
    return chosen, problems


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


class SubjectRefused(ValueError):
    """A change to a subject that cannot be made, with the sentence to show (and its field)."""

    def __init__(self, message: str, field: str = "__all__") -> None:
        super().__init__(message)
        self.message, self.field = message, field


def delete_subject(subject: Subject) -> None:
    """Delete the subject; the waiting jobs that use it fail (videos made with it stay)."""
    from generation import lifecycle  # lifecycle reads mentions from this module

    with transaction.atomic():
        # Before the rows go: the jobs find the subject through their inputs.
        lifecycle.fail_queued_using_subject(
            subject.id, f"The subject {subject.name} was deleted before this job ran.")
        subject.delete()


def grant_use(subject: Subject, username: str, by: User) -> SubjectGrant:
    """Let the user called `username` (any case) use the subject in their own jobs."""
    username = username.strip()
    # No user is named with text the database cannot hold (and it could not look it up).
    user = User.objects.filter(username__iexact=username).first() \
        if username and not text_problem(username) else None
    if user is None:
        raise SubjectRefused(f"There is no user called {username}." if username
                             else "Name a user.", "username")
    if user.pk == by.pk:
        raise SubjectRefused("You can always use your own subjects.", "username")
    grant, created = SubjectGrant.objects.get_or_create(subject=subject, user=user)
    if not created:
        raise SubjectRefused(f"{user.username} may already use {subject.name}.", "username")
    return grant


def revoke_use(grant: SubjectGrant, by: User) -> int:
    """Take the grant back; the grantee's waiting jobs that use the subject fail. Returns how
    many did."""
    from generation import lifecycle  # lifecycle reads mentions from this module

    subject = grant.subject
    with transaction.atomic():
        grant.delete()
        return lifecycle.fail_queued_using_subject(
            subject.id, f"{by.username} no longer lets you use the subject {subject.name}, so "
                        f"this job was not run.", owner_id=grant.user_id)


def choose_version(photo: SubjectPhoto, use_cutout: bool) -> None:
    """Which version of the photo jobs use: the background-removed one, or the original."""
    if use_cutout and photo.cutout_id is None:
        raise SubjectRefused("This photo has no background-removed version.", "version")
    SubjectPhoto.objects.filter(pk=photo.pk).update(use_cutout=use_cutout)
    photo.use_cutout = use_cutout


def remove_photo(subject: Subject, photo: SubjectPhoto) -> None:
    if subject.photos.count() <= 1:
        raise SubjectRefused("A subject needs at least one photo: add another first, or "
                             "delete the subject.")
    photo.delete()


def _send_cutout_task(photo_id: int) -> None:
    celery_app.send_task(REMOVE_BACKGROUND_TASK, args=[photo_id],
                         queue=settings.CELERY_MODELS_QUEUE)


@receiver(post_delete, sender=SubjectPhoto)
def _delete_cutout(sender: type[SubjectPhoto], instance: SubjectPhoto, **kwargs: Any) -> None:
    """A photo's cutout was made for it alone: it goes with the photo (the original stays in
    My uploads)."""
    if instance.cutout_id is not None:
        Upload.objects.filter(pk=instance.cutout_id).delete()
