"""The domain: a Job is a request to make a video; a Video is what a finished job produced.

The Job row is the only truth about a job. Celery and websocket messages are hints that may
be lost or duplicated; every state change goes through a compare-and-set UPDATE that bumps
``status_sequence``, and a terminal state is never overwritten.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobKind(models.TextChoices):
    TEXT_TO_VIDEO = "t2v", "Text to video"


class JobOrigin(models.TextChoices):
    """How a job came to be: lineage shown on a video's page."""

    NEW = "new", "New"
    RETRY = "retry", "Retry"
    REMIX = "remix", "Remix"


class JobQuerySet(models.QuerySet["Job"]):
    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def owned_by(self, user: Any) -> JobQuerySet:
        return self.filter(owner=user)

    def fair_queue(self) -> JobQuerySet:
        """Queued jobs in the order workers take them: round-robin between owners.

        An owner's n-th waiting job (oldest first) gets turn n, pushed back by the jobs of
        theirs already running; jobs run by turn, then by age. So one person's batch of ten
        does not hold up everyone who submits after it, and a lone job runs next.
        """
        running = (self.model.objects.filter(owner=OuterRef("owner"), status=JobStatus.RUNNING)
                   .order_by().values("owner").annotate(count=Count("pk")).values("count"))
        return self.filter(status=JobStatus.QUEUED).annotate(
            turn=Window(RowNumber(), partition_by=F("owner"), order_by=F("created_at").asc())
            + Coalesce(Subquery(running), Value(0)),
        ).order_by("turn", "created_at", "id")

    def runnable(self) -> JobQuerySet:
        """Jobs a worker may claim now: waiting, attempts left, past any retry back-off."""
        return self.filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()),
                           attempts__lt=settings.FRAMECRAFT_MAX_ATTEMPTS)

    def transition(
        self,
        job_id: uuid.UUID,
        from_statuses: tuple[str, ...],
        to_status: str,
        where: dict[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set: move the job only if it is still in one of ``from_statuses``
        (and matches ``where``). Terminal states are never left."""
        assert not set(from_statuses) & set(TERMINAL_STATUSES), "terminal states are final"
        if to_status in TERMINAL_STATUSES:
            fields.setdefault("finished_at", timezone.now())
        updated = self.filter(pk=job_id, status__in=from_statuses, **(where or {})).update(
            status=to_status,
            status_sequence=F("status_sequence") + 1,
            updated_at=timezone.now(),
            **fields,
        )
        return updated == 1


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices,
                            default=JobKind.TEXT_TO_VIDEO)
    preset = models.CharField(max_length=64)
    params = models.JSONField(help_text="The validated recipe: prompt, size, steps, seed …")
    origin = models.CharField(max_length=16, choices=JobOrigin.choices, default=JobOrigin.NEW)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="retries")
    source_video = models.ForeignKey("Video", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="derived_jobs",
                                     help_text="The video this job was made from (a remix …).")

    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.QUEUED)
    status_sequence = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    preview_jpeg = models.BinaryField(null=True, blank=True, editable=False)

    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)

    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True,
                                      help_text="A re-queued job waits until then (back-off).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    timings = models.JSONField(default=dict, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=("owner", "status")),
            models.Index(fields=("status", "created_at")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def can_cancel(self) -> bool:
        return self.is_active and not self.cancel_requested

    @property
    def can_retry(self) -> bool:
        return self.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def prompt(self) -> str:
        return self.params.get("prompt", "")


def video_upload_to(video: Video, filename: str) -> str:
    # Server-made names: never anything the user typed.
    return f"videos/{video.owner_id}/{video.id}{_suffix(filename)}"


def poster_upload_to(video: Video, filename: str) -> str:
    return f"posters/{video.owner_id}/{video.id}{_suffix(filename)}"


def _suffix(filename: str) -> str:
    return "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    UNLISTED = "unlisted", "Anyone with the link"
    PUBLIC = "public", "Public"


class VideoQuerySet(models.QuerySet["Video"]):
    def owned_by(self, user: Any) -> VideoQuerySet:
        return self.filter(owner=user)

    def public(self) -> VideoQuerySet:
        return self.filter(visibility=Visibility.PUBLIC)

    def shared(self, slug: str) -> VideoQuerySet:
        """Videos reachable through a share link: not private, link not revoked or expired."""
        return self.filter(share_slug=slug).exclude(visibility=Visibility.PRIVATE).exclude(
            share_expires_at__lte=timezone.now())


class Video(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="videos")
    # One job makes at most one video: the database enforces "one output" for retried jobs.
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="video")
    file = models.FileField(upload_to=video_upload_to, max_length=255)
    poster = models.FileField(upload_to=poster_upload_to, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    fps = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField()
    duration_s = models.FloatField()
    size_bytes = models.PositiveBigIntegerField()
    recipe = models.JSONField(help_text="Everything needed to make this video again.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Copied from the job so that the gallery filters and searches without joins.
    kind = models.CharField(max_length=16, choices=JobKind.choices, default=JobKind.TEXT_TO_VIDEO)
    preset = models.CharField(max_length=64, blank=True)
    prompt = models.TextField(blank=True)

    is_favourite = models.BooleanField(default=False)
    visibility = models.CharField(max_length=16, choices=Visibility.choices,
                                  default=Visibility.PRIVATE)
    share_slug = models.CharField(max_length=32, unique=True, null=True, blank=True)
    share_expires_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("owner", "-created_at", "-id"), name="video_gallery_idx"),
            models.Index(fields=("visibility", "-created_at"), name="video_public_idx"),
        ]

    def __str__(self) -> str:
        return self.prompt[:60] or f"Video {self.id}"

    @property
    def share_is_live(self) -> bool:
        return (
            self.visibility != Visibility.PRIVATE
            and self.share_slug is not None
            and (self.share_expires_at is None or self.share_expires_at > timezone.now())
        )


class ModelAction(models.TextChoices):
    INSTALL = "install", "Install"
    VERIFY = "verify", "Verify"
    REMOVE = "remove", "Remove"


class ModelOperation(models.Model):
    """An operator's request to install, verify or remove a preset's weights on the workers'
    models volume; a worker carries it out and writes what happened here."""

    preset = models.CharField(max_length=64)
    action = models.CharField(max_length=16, choices=ModelAction.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.QUEUED)
    message = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "model"
        verbose_name_plural = "models"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.preset} ({self.status})"
