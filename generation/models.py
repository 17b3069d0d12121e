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
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Lower, RowNumber
from django.utils import timezone

from generation.presets import TASK_LABELS, Task

# Importing the module registers its rows (QueueMember, QueueHold) with the app.
from generation.queue_models import PERSONAL_ORDER, QueueMember
from worker.catalogue.loras import EXPERT_LABELS, EXPERTS


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


# A job's kind is the catalogue's task: one enum for web and worker alike.
TASK_CHOICES = [(task.value, TASK_LABELS[task].capitalize()) for task in Task]


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
        """Queued jobs in the order workers take them: weighted round-robin between owners,
        each owner's jobs in the order they chose (generation.queue); one query.

        An owner's n-th waiting job (in their order: as they arranged it, else oldest first)
        gets turn ceil((n + running) / weight): running counts their jobs already running,
        weight (1 unless an admin gave more) is their turns per round. Within a turn, the
        owner whose weight-th latest start is longest ago (or who has fewer starts) goes
        first: with weight 1, whose last job started longest ago, so with one worker, where
        nobody has a job running at claim time, a newcomer still goes before the next job of
        someone whose job just ran, and batches of several people interleave; with weight 2,
        two of theirs per round. Then the owner waiting longest, so that how an owner orders
        their own jobs never moves anyone else's. Owners who paused their queue are left out.
        """
        jobs = self.model.objects
        running = (jobs.filter(owner=OuterRef("owner"), status=JobStatus.RUNNING)
                   .order_by().values("owner").annotate(count=Count("pk")).values("count"))
        weight = QueueMember.objects.filter(user=OuterRef("owner")).values("weight")
        # The owner's starts from this one on, newest first: the weight-th is their turn's start.
        # Counting started_at (never null here), not pk: an index-only scan of (owner,
        # started_at) from this start on, instead of reading all of the owner's past jobs.
        later = (jobs.filter(owner=OuterRef(OuterRef("owner")),
                             started_at__gte=OuterRef("started_at"))
                 .order_by().values("owner").annotate(count=Count("started_at")).values("count"))
        turn_start = (jobs.filter(owner=OuterRef("owner"), started_at__isnull=False)
                      .annotate(later=Subquery(later)).filter(later__gte=OuterRef("weight"))
                      .order_by("-started_at").values("started_at")[:1])
        place = Window(RowNumber(), partition_by=F("owner"), order_by=PERSONAL_ORDER)
        return self.filter(status=JobStatus.QUEUED).exclude(
            owner__in=QueueMember.objects.filter(paused=True).values("user"),
        ).annotate(
            weight=Coalesce(Subquery(weight), Value(1)), place=place,
            waiting_since=Window(Min("created_at"), partition_by=F("owner")),
        ).annotate(
            turn=ExpressionWrapper(
                (F("place") + Coalesce(Subquery(running), Value(0)) + F("weight") - 1)
                / F("weight"), output_field=models.IntegerField()),
            owner_turn_start=Subquery(turn_start),
        ).order_by("turn", F("owner_turn_start").asc(nulls_first=True), "waiting_since",
                   "owner_id", "place")

    def queue_positions(self) -> dict[uuid.UUID, int]:
        """Every waiting job's place in the fair order (1 runs next), in one query."""
        ids = self.fair_queue().values_list("id", flat=True)
        return {job_id: place for place, job_id in enumerate(ids, start=1)}

    def runnable(self) -> JobQuerySet:
        """Jobs a worker may claim now: waiting, attempts left, past any retry back-off."""
        return self.filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()),
                           attempts__lt=settings.FRAMECRAFT_MAX_ATTEMPTS)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index below starts with the owner. A plain one misled the
    # planner into reading all of a person's jobs to count their latest starts (fair_queue).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="jobs", db_index=False)
    kind = models.CharField(max_length=16, choices=TASK_CHOICES, default=Task.T2V.value)
    preset = models.CharField(max_length=64)
    params = models.JSONField(help_text="The job's spec (generation.specs): prompt, size, "
                                        "steps, seed …; its media are JobInput rows.")
    origin = models.CharField(max_length=16, choices=JobOrigin.choices, default=JobOrigin.NEW)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="retries")

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
    gpus = models.PositiveSmallIntegerField(
        default=1, help_text="GPUs of one host the planner chose for this job; a worker "
                             "with that many claims it first.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True,
                                      help_text="A re-queued job waits until then (back-off).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    queue_rank = models.PositiveIntegerField(
        null=True, blank=True, help_text="The owner's order of their waiting jobs (1 goes "
                                         "first); none: after those, oldest first.")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    timings = models.JSONField(default=dict, blank=True)

    objects = JobQuerySet.as_manager()
    # Set on the jobs of a list (generation.queries): 1 runs next; None when not waiting.
    queue_position: int | None = None

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=("owner", "status")),
            # The studio's job list and the API's, newest first, a keyset page at a time.
            models.Index(fields=("owner", "-created_at", "-id"), name="job_history_idx"),
            models.Index(fields=("status", "created_at")),
            models.Index(fields=("owner", "started_at")),
            # Each owner's waiting jobs in their order: the fair queue's window reads it.
            models.Index(fields=("owner", "queue_rank", "created_at"),
                         condition=Q(status="queued"), name="job_waiting_order"),
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
    kind = models.CharField(max_length=16, choices=TASK_CHOICES, default=Task.T2V.value)
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
            # Every page is a keyset walk down one of these (bench/gallery.py measures them at
            # a million videos): the gallery in each order, filtered by model, kind or
            # favourite; Explore and a profile over public videos only (partial indexes).
            models.Index(fields=("owner", "-created_at", "-id"), name="video_gallery_idx"),
            models.Index(fields=("owner", "-duration_s", "-id"), name="video_longest_idx"),
            models.Index(fields=("owner", "preset", "-created_at", "-id"),
                         name="video_preset_idx"),
            models.Index(fields=("owner", "kind", "-created_at", "-id"), name="video_kind_idx"),
            models.Index(fields=("owner", "-created_at", "-id"), name="video_favourite_idx",
                         condition=models.Q(is_favourite=True)),
            models.Index(fields=("-created_at", "-id"), name="video_explore_idx",
                         condition=models.Q(visibility="public")),
            models.Index(fields=("owner", "-created_at", "-id"), name="video_profile_idx",
                         condition=models.Q(visibility="public")),
            # The studio's time estimates: a preset's latest videos made on one kind of GPU
            # (generation.fleet._measure), a page of rows however long the history.
            models.Index(F("preset"), KeyTransform("gpu", "recipe"), F("created_at").desc(),
                         name="video_measure_idx"),
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


def upload_to(upload: Upload, filename: str) -> str:
    return f"uploads/{upload.owner_id}/{upload.id}{_suffix(filename)}"


def upload_thumb_to(upload: Upload, filename: str) -> str:
    return f"uploads/{upload.owner_id}/{upload.id}.thumb{_suffix(filename)}"


class UploadKind(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    LORA = "lora", "LoRA"


class Upload(models.Model):
    """A file a user brought (a start image, a video to edit, a mask, a reference photo).

    Stored under a server-made name; what it is was found by probing its content, never from
    its name or the browser's Content-Type.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="uploads")
    kind = models.CharField(max_length=16, choices=UploadKind.choices)
    file = models.FileField(upload_to=upload_to, max_length=255)
    thumb = models.FileField(upload_to=upload_thumb_to, max_length=255, blank=True,
                             help_text="A small JPEG: the image, or a video's first frame.")
    original_name = models.CharField(max_length=255, blank=True,
                                     help_text="Shown to its owner only; never used as a path.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    fps = models.FloatField(default=0)
    metadata = models.JSONField(default=dict, blank=True, help_text="What probing found.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.original_name or f"{self.get_kind_display()} {self.id}"


class InputRole(models.TextChoices):
    """What a job does with one of its inputs."""

    START_IMAGE = "start_image", "Start image"
    END_IMAGE = "end_image", "End image"
    SOURCE_VIDEO = "source_video", "Source video"
    MASK = "mask", "Mask"
    REFERENCE = "reference", "Reference image"
    # An image at a later frame of an image-to-video clip; its frame and strength are in the
    # job's params (`keyframes`), in the order of the rows' positions.
    KEYFRAME = "keyframe", "Keyframe"
    LORA = "lora", "LoRA"
    # Lineage only: the video whose recipe a remix started from; the model never sees it.
    REMIX_OF = "remix_of", "Remix of"


class JobInput(models.Model):
    """One input of a job: an upload or a video of the gallery, in a role.

    Deleting the upload or video keeps the row (and so the lineage) with its pointer emptied.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="inputs")
    role = models.CharField(max_length=16, choices=InputRole.choices)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the role.")
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="job_inputs")
    video = models.ForeignKey("Video", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="job_inputs")
    # A reference photo of a subject: the subject, and its name and kind when the job was made
    # (kept when the subject is renamed or deleted).
    subject = models.ForeignKey("Subject", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="job_inputs")
    subject_name = models.CharField(max_length=40, blank=True)
    subject_kind = models.CharField(max_length=16, blank=True)
    strength = models.FloatField(null=True, blank=True, help_text="A LoRA's weight in the job.")
    expert = models.CharField(
        max_length=16, choices=[(name, EXPERT_LABELS[name]) for name in EXPERTS],
        default="both", help_text="Which experts of a two-expert model (Wan 2.2 A14B) a LoRA "
                                  "goes into.")

    class Meta:
        ordering = ("job", "role", "position")
        constraints = [
            models.UniqueConstraint(fields=("job", "role", "position"),
                                    name="job_input_role_position"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} of job {self.job_id}"


class LoraPurpose(models.TextChoices):
    SUBJECT = "subject", "A subject"
    STYLE = "style", "A style"


class Lora(models.Model):
    """A LoRA a user brought: its file is an Upload (kind "lora", in the storage quota); this
    row is what it is for, found by reading its tensors' names and shapes when it was accepted."""

    upload = models.OneToOneField(Upload, primary_key=True, on_delete=models.CASCADE,
                                  related_name="lora")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="loras")
    name = models.CharField(max_length=80)
    purpose = models.CharField(max_length=16, choices=LoraPurpose.choices,
                               default=LoraPurpose.STYLE)
    base = models.CharField(max_length=64, help_text="The preset it was made for.")
    fits = models.JSONField(default=list, help_text="Every preset whose transformer it fits.")
    rank = models.PositiveSmallIntegerField()
    layer_count = models.PositiveIntegerField()
    key_format = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=("owner", "name"),
                                               name="lora_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class WorkerState(models.Model):
    """What a GPU worker process last said about itself: its GPU, the models it holds and
    the job it runs. Claims read it so that a small GPU leaves a job to an idle bigger one."""

    name = models.CharField(max_length=200, primary_key=True)
    queues = models.JSONField(default=list, blank=True)
    gpu_name = models.CharField(max_length=120, blank=True)
    gpu_total_gb = models.FloatField(default=0.0, help_text="0 on a CPU worker; per GPU.")
    gpu_count = models.PositiveSmallIntegerField(
        default=1, help_text="GPUs in the worker's process group: one job runs on all.")
    gpu_memory = models.JSONField(
        default=list, blank=True,
        help_text="Per GPU: allocated and peak GiB of the worker's processes.")
    loaded = models.JSONField(default=list, blank=True, help_text="Preset ids held warm.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def node(self) -> str:
        """The Celery node name (``gpu0@host``): the process id after it changes on restart."""
        return node_of(self.name)


def node_of(worker_name: str) -> str:
    node, _, pid = worker_name.rpartition(":")
    return node if node and pid.isdigit() else worker_name


class WorkerDrain(models.Model):
    """A worker node told to finish its job and take no more; read at every claim. Kept by
    node name, so that a drained worker stays drained when its process restarts."""

    node = models.CharField(max_length=200, primary_key=True)
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.node


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


# --- Subjects: a person, character, object, place or style from the owner's photos ----------

class SubjectKind(models.TextChoices):
    PERSON = "person", "Person"
    CHARACTER = "character", "Character"
    OBJECT = "object", "Object"
    PLACE = "place", "Place"
    STYLE = "style", "Style"


class Subject(models.Model):
    """Something its owner wants in videos again and again, from 1 to 5 photos. Private: only
    the owner and the users they grant it to may use it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="subjects")
    name = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=SubjectKind.choices,
                            default=SubjectKind.PERSON)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner",
                                    name="subject_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("subject_detail", args=[self.id])


class CutoutStatus(models.TextChoices):
    PENDING = "pending", "Removing the background"
    READY = "ready", "Ready"
    FAILED = "failed", "Not possible"
    UNAVAILABLE = "unavailable", "Not installed"


class SubjectPhoto(models.Model):
    """One photo of a subject: the original upload and its background-removed version (made
    by the models worker, framed on the suggested crop), and which of the two jobs use."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="photos")
    position = models.PositiveSmallIntegerField(default=0)
    original = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="+")
    cutout = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    cutout_status = models.CharField(max_length=16, choices=CutoutStatus.choices,
                                     default=CutoutStatus.PENDING)
    cutout_message = models.CharField(max_length=300, blank=True)
    use_cutout = models.BooleanField(default=True)
    crop = models.JSONField(null=True, blank=True,
                            help_text="The suggested framing (left, top, right, bottom) in the "
                                      "original's pixels, from the subject mask.")

    class Meta:
        ordering = ("subject", "position", "id")

    def __str__(self) -> str:
        return f"Photo {self.position + 1} of {self.subject}"

    @property
    def crop_rect(self) -> tuple[int, int, int, int] | None:
        """The suggested crop as x, y, width, height (for drawing it)."""
        if not self.crop:
            return None
        left, top, right, bottom = self.crop
        return left, top, right - left, bottom - top

    @property
    def chosen(self) -> Upload:
        """The version a job uses: the cutout when chosen and made, else the original."""
        if self.use_cutout and self.cutout_id is not None and self.cutout is not None:
            return self.cutout
        return self.original


class SubjectGrant(models.Model):
    """The owner lets `user` use the subject in their own jobs (not see or change it)."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="subject_grants")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at",)
        constraints = [models.UniqueConstraint(fields=("subject", "user"),
                                               name="subject_grant_once")]

    def __str__(self) -> str:
        return f"{self.subject} for {self.user}"


def control_preview_to(preview: ControlPreview, filename: str) -> str:
    return f"previews/{preview.owner_id}/{preview.id}{_suffix(filename)}"


class ControlPreview(models.Model):
    """A motion transfer's control track drawn small, before any GPU time is spent: one per
    owner, source, kind and clip (start, frames, frame rate), made by the models worker."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="control_previews")
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    control = models.CharField(max_length=16)
    start_s = models.FloatField(default=0.0)
    num_frames = models.PositiveIntegerField()
    fps = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.QUEUED)
    message = models.TextField(blank=True)
    file = models.FileField(upload_to=control_preview_to, max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)
        # One partial constraint per kind of source rather than one with NULLS NOT DISTINCT,
        # which SQLite cannot enforce (models.W047): both databases keep the rule.
        constraints = [
            models.UniqueConstraint(
                fields=("owner", "video", "control", "start_s", "num_frames", "fps"),
                condition=models.Q(upload__isnull=True), name="control_preview_once_per_video"),
            models.UniqueConstraint(
                fields=("owner", "upload", "control", "start_s", "num_frames", "fps"),
                condition=models.Q(video__isnull=True), name="control_preview_once_per_upload"),
        ]

    def __str__(self) -> str:
        return f"{self.control} preview {self.id} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == JobStatus.SUCCEEDED and bool(self.file)


class MaskTracking(models.Model):
    """A mask that follows what the owner clicked on through a clip of a source video, made by
    the models worker; the result is a lossless mask video among the owner's uploads, ready
    for a masked edit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="mask_trackings")
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    clicks = models.JSONField(help_text="[frame, x, y, positive] in source pixels.")
    start_s = models.FloatField(default=0.0)
    num_frames = models.PositiveIntegerField()
    fps = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.QUEUED)
    message = models.TextField(blank=True)
    mask = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="tracked_from")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"mask tracking {self.id} ({self.status})"
