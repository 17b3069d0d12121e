"""Every state change of a job, and nothing else writes one.

submit → claim → heartbeat / progress → succeed | fail | cancel, with requeue (back-off) and
reap for crashed attempts. Each change is a compare-and-set UPDATE on the Job row that bumps
`status_sequence`, never leaves a terminal state, and emits its own typed event to the
owner's open pages. Celery messages are hints that there is work, sent after the commit.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from generation import events, fleet
from generation.events import JobChange
from generation.models import (
    TERMINAL_STATUSES,
    InputRole,
    Job,
    JobInput,
    JobOrigin,
    JobStatus,
    Subject,
    Upload,
    Video,
)
from generation.queue import claimable
from generation.specs import InputRef, JobSpec, LoraUse, SpecError, build_spec
from generation.subjects import resolve_mentions, subject_photo_uploads
from webapp.celery import app as celery_app
from worker.catalogue import Ability, get_preset
from worker.catalogue.base import HELPER_TASKS
from worker.catalogue.planning import gpus_for

log = logging.getLogger("framecraft.jobs")

RUN_JOB_TASK = "framecraft.run_job"
RETRY_BACKOFF_S = 5.0


class JobLimitReached(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already have {limit} job{'s' if limit != 1 else ''} waiting or running, "
            "the most you may have at once. Wait for one to finish or cancel one."
        )
        self.limit = limit


class StepVerdict(enum.Enum):
    """What a running job's worker is told between two steps."""

    GO_ON = "go_on"
    CANCEL = "cancel"
    LOST = "lost"  # reaped and maybe claimed again elsewhere: this attempt is over


def _transition(job_id: uuid.UUID, from_statuses: tuple[str, ...], to_status: str,
                where: dict[str, Any] | None = None, **fields: Any) -> bool:
    """Compare-and-set: move the job only if it is still in one of `from_statuses` (and
    matches `where`). Terminal states are never left."""
    if set(from_statuses) & set(TERMINAL_STATUSES):
        raise ValueError(f"terminal states are final; cannot move a job out of {from_statuses}")
    if to_status in TERMINAL_STATUSES:
        fields.setdefault("finished_at", timezone.now())
    updated = Job.objects.filter(pk=job_id, status__in=from_statuses, **(where or {})).update(
        status=to_status, status_sequence=F("status_sequence") + 1, updated_at=timezone.now(),
        **fields)
    return updated == 1


def _announce(job_id: uuid.UUID, change: JobChange) -> None:
    """Tell the owner's open pages that the job changed (read back from the database)."""
    row = Job.objects.filter(pk=job_id).values(
        "owner_id", "status", "status_sequence", "progress_step").first()
    if row is not None:
        events.job_updated(row["owner_id"], job_id, row["status"], row["status_sequence"],
                           row["progress_step"], change)


def _announce_on_commit(job_id: uuid.UUID, change: JobChange) -> None:
    transaction.on_commit(lambda: _announce(job_id, change))


# --- Hints to the workers -------------------------------------------------------------------

def send_hint(job_id: uuid.UUID, preset_id: str, countdown: float | None = None) -> None:
    """Tell the workers that there is work (every GPU class hears of every job; one that
    cannot run `preset_id` leaves it alone). Only once the job is committed."""
    for queue in fleet.job_queues():
        celery_app.send_task(RUN_JOB_TASK, args=[str(job_id)], countdown=countdown, queue=queue)


def top_up_hints(queues: list[str]) -> int:
    """Send hints so that each of `queues` holds one per runnable queued job.

    A broker that lost its messages (an embedded Redis that was stopped, a flushed queue) must
    not strand jobs, but a worker start must not pile a second message on every queued job.
    """
    sent = 0
    # Only jobs a claim could take: none of a paused person's, none while the queue is held.
    waiting = claimable(Job.objects.fair_queue().runnable()).count()
    if not waiting:
        return 0
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            held = channel.queue_declare(queue=queue, passive=False, durable=True,
                                         auto_delete=False).message_count
            for _ in range(max(0, waiting - held)):
                celery_app.send_task(RUN_JOB_TASK, args=["any"], queue=queue)
                sent += 1
    return sent


# --- What people do -------------------------------------------------------------------------

def submit(user: User, spec: JobSpec, *, retry_of: Job | None = None,
           remix_of: Video | None = None) -> Job:
    """Create a queued job for `user` from a spec that validates, and hint the workers once
    the transaction commits. Inputs must be the user's own uploads and videos."""
    spec.validate()
    with transaction.atomic():
        # Lock the user row so that two simultaneous submissions cannot both pass the cap.
        User.objects.select_for_update().filter(pk=user.pk).first()
        limit = user.active_job_limit
        if Job.objects.owned_by(user).active().count() >= limit:
            raise JobLimitReached(limit)
        _check_inputs_owned(user, spec)
        _check_mentions(user, spec)
        origin = (JobOrigin.RETRY if retry_of else
                  JobOrigin.REMIX if remix_of else JobOrigin.NEW)
        job = Job.objects.create(owner=user, kind=spec.task, preset=spec.preset,
                                 params=spec.params(), retry_of=retry_of, origin=origin,
                                 gpus=planned_gpus(spec))
        subjects = Subject.objects.in_bulk({ref.subject_id for ref in spec.inputs
                                            if ref.subject_id})
        rows = [JobInput(job=job, role=ref.role, upload_id=ref.upload_id, video_id=ref.video_id,
                         position=index, **_subject_snapshot(subjects.get(ref.subject_id)))
                for role in InputRole for index, ref in enumerate(spec.inputs_in(role))]
        rows += [JobInput(job=job, role=InputRole.LORA, upload_id=use.lora_id,
                          strength=use.strength, expert=use.expert, position=index)
                 for index, use in enumerate(spec.loras)]
        if remix_of is not None:
            rows.append(JobInput(job=job, role=InputRole.REMIX_OF, video=remix_of))
        JobInput.objects.bulk_create(rows)
        transaction.on_commit(lambda: send_hint(job.id, job.preset))
        transaction.on_commit(lambda: events.jobs_changed(job.owner_id))
        # Round-robin order: a newcomer's job may go ahead of others' waiting jobs.
        transaction.on_commit(events.queue_moved)
    log.info("job %s submitted by user %s (%s, %s)", job.id, user.pk, spec.task, spec.preset)
    return job


def planned_gpus(spec: JobSpec) -> int:
    """The GPU count the planner picks for a job: the catalogue says where more GPUs pay (a
    helper model's job runs on one)."""
    if spec.runs_on_helper:
        return 1
    return gpus_for(get_preset(spec.preset), spec.width, spec.height, spec.num_frames)


def _check_inputs_owned(user: User, spec: JobSpec) -> None:
    """The user's own uploads and videos, or photos of subjects they own or were granted."""
    uploads = {ref.upload_id for ref in spec.inputs if ref.upload_id and not ref.subject_id}
    videos = {ref.video_id for ref in spec.inputs if ref.video_id}
    loras = {use.lora_id for use in spec.loras if use.lora_id is not None}
    if len(uploads) != Upload.objects.filter(owner=user, pk__in=uploads).count() or (
            len(videos) != Video.objects.filter(owner=user, pk__in=videos).count()):
        raise SpecError({"__all__": "One of the job's inputs does not exist."})
    photos = subject_photo_uploads(user, {ref.subject_id for ref in spec.inputs
                                          if ref.subject_id})
    for ref in spec.inputs:
        if ref.subject_id and ref.upload_id not in photos.get(ref.subject_id, ()):
            raise SpecError({"__all__": "One of the subjects is not yours to use."})
    if len(loras) != Upload.objects.filter(owner=user, pk__in=loras, lora__isnull=False).count():
        raise SpecError({"loras": "One of the chosen LoRAs does not exist."})


def _check_mentions(user: User, spec: JobSpec) -> None:
    """`@name` of one of the user's subjects in a job that takes no reference photos would be
    silently ignored: refuse it, saying where subjects are used. A helper model's prompt (what
    a soundtrack should sound like) names no one to show."""
    if spec.task in HELPER_TASKS or spec.inputs_in(InputRole.REFERENCE):
        return
    subjects, _ = resolve_mentions(user, spec.prompt)
    if not subjects:
        return
    names = ", ".join(f"@{subject.name}" for subject in subjects)
    preset = get_preset(spec.preset)
    what = (f"{preset.label} takes no reference photos" if not preset.supports(Ability.REFERENCE)
            else "this task takes no reference photos")
    raise SpecError({"prompt": (
        f"{names} {'is one of your subjects' if len(subjects) == 1 else 'are your subjects'}, "
        f"but {what}, so the video would not show "
        f"{'it' if len(subjects) == 1 else 'them'}. Choose “With a subject” to use "
        f"{'it' if len(subjects) == 1 else 'them'}, or write the name without the @.")})


def _subject_snapshot(subject: Subject | None) -> dict[str, Any]:
    if subject is None:
        return {}
    return {"subject": subject, "subject_name": subject.name, "subject_kind": subject.kind}


def spec_of(job: Job) -> JobSpec:
    """The job's spec as stored: its params and its input rows."""
    rows = list(job.inputs.exclude(role=InputRole.REMIX_OF).order_by("role", "position"))
    refs = [InputRef(role=InputRole(row.role), upload_id=row.upload_id, video_id=row.video_id,
                     subject_id=row.subject_id)
            for row in rows if row.role != InputRole.LORA and (row.upload_id or row.video_id)]
    # A deleted LoRA stays in the spec without an id: a retry is refused, not run without it.
    loras = [LoraUse(row.upload_id, row.strength if row.strength is not None else 1.0,
                     row.expert)
             for row in rows if row.role == InputRole.LORA]
    return build_spec(job.kind, job.preset, job.params, refs, loras)


def fail_queued_using_subject(subject_id: uuid.UUID, message: str, *,
                              owner_id: int | None = None) -> int:
    """Fail the waiting jobs (of `owner_id`, or everyone's) whose references are photos of a
    subject that may no longer be used: a revoked grant, a deleted subject. Running and
    finished jobs keep going; their videos stay. Returns how many failed."""
    jobs = Job.objects.filter(status=JobStatus.QUEUED, inputs__subject_id=subject_id)
    if owner_id is not None:
        jobs = jobs.filter(owner_id=owner_id)
    failed = 0
    for job_id in set(jobs.values_list("id", flat=True)):
        if _transition(job_id, (JobStatus.QUEUED,), JobStatus.FAILED,
                       error_code="subject_unavailable", error_message=message):
            _announce_on_commit(job_id, "failed")
            failed += 1
    if failed:
        transaction.on_commit(events.queue_moved)
    return failed


def remix_source(job: Job) -> Video | None:
    row = job.inputs.filter(role=InputRole.REMIX_OF).select_related("video").first()
    return row.video if row else None


def retry(job: Job) -> Job:
    """A new job with the same spec (seed and inputs included) as a failed or cancelled one."""
    if not job.can_retry:
        raise ValueError("Only failed or cancelled jobs can be retried.")
    return submit(job.owner, spec_of(job), retry_of=job, remix_of=remix_source(job))


def cancel(job: Job) -> bool:
    """Cancel a queued job at once; ask a running one to stop at its next step."""
    if _transition(job.id, (JobStatus.QUEUED,), JobStatus.CANCELLED, cancel_requested=True):
        # Its hint stays in the broker; a claim never takes a cancelled job.
        transaction.on_commit(events.queue_moved)
        _announce_on_commit(job.id, "cancelled")
        return True
    updated = Job.objects.filter(pk=job.id, status=JobStatus.RUNNING,
                                 cancel_requested=False).update(cancel_requested=True)
    if updated:
        _announce_on_commit(job.id, "cancel_requested")
    return bool(updated)


# --- What workers do ------------------------------------------------------------------------

@dataclass(frozen=True)
class Capacity:
    """What a worker can take: presets it has and can run in its memory (None: any), those it
    could run only slowly (left to an idle bigger GPU), those it holds warm, and how many GPUs
    run each of its jobs (a process group's size; memory figures are per GPU)."""

    presets: frozenset[str] | None = None
    reluctant: frozenset[str] = frozenset()
    loaded: frozenset[str] = frozenset()
    gpu_total_gb: float = 0.0
    gpus: int = 1


def claim(worker_name: str, capacity: Capacity | None = None) -> Job | None:
    """Take the next job in fair order that this worker can run; None when there is none.

    A hint says that there is work, not which: the worker takes the job whose turn it is
    (`Job.objects.fair_queue`). Among the next owner's jobs it prefers one whose model it
    holds warm, unless that owner arranged their jobs (generation.queue): their order is
    theirs to choose. Nothing is taken while the queue is held for maintenance. The claim is
    a compare-and-set, so racing workers never share a job. A drained
    worker takes nothing; a job goes to a worker with the GPU count it was planned for when
    one is there to take it (`fleet.claim_scope`).
    """
    capacity = capacity or Capacity()
    if fleet.is_draining(worker_name):
        return None
    least, most = fleet.claim_scope(worker_name, capacity.gpus)
    while True:
        queue = claimable(Job.objects.fair_queue().runnable()).filter(gpus__gte=least)
        if most is not None:
            queue = queue.filter(gpus__lte=most)
        if capacity.presets is not None:
            queue = queue.filter(preset__in=capacity.presets)
        if capacity.reluctant and fleet.bigger_idle_worker(worker_name, capacity.gpu_total_gb):
            queue = queue.exclude(preset__in=capacity.reluctant)
        candidates = list(queue.values_list("id", "owner_id", "preset", "queue_rank")[:16])
        if not candidates:
            return None
        _, head_owner, _, arranged = candidates[0]
        if arranged is None:
            candidates.sort(key=lambda row: not (row[1] == head_owner
                                                 and row[2] in capacity.loaded))
        for job_id, _, _, _ in candidates:
            now = timezone.now()
            if _transition(job_id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                           where={"attempts__lt": settings.FRAMECRAFT_MAX_ATTEMPTS,
                                  "cancel_requested": False},
                           attempts=F("attempts") + 1, worker=worker_name, started_at=now,
                           heartbeat_at=now, progress_step=0, progress_total=0,
                           preview_jpeg=None, error_code="", error_message="", not_before=None):
                job = Job.objects.get(pk=job_id)
                fleet.working_on(worker_name, job.id)
                _announce(job.id, "claimed")
                events.queue_moved()
                return job


def heartbeat(job_id: uuid.UUID, attempt: int) -> bool:
    """The worker running this attempt is alive."""
    return Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt).update(
        heartbeat_at=timezone.now()) == 1


def step_verdict(job_id: uuid.UUID, attempt: int
                 ) -> tuple[StepVerdict, Mapping[str, Any] | None]:
    """Read between two steps: go on, stop for a cancel, or stop because the job is lost.
    Also returns the row's owner and sequence, so that progress needs no second read."""
    row = Job.objects.filter(pk=job_id).values(
        "cancel_requested", "status", "attempts", "status_sequence", "owner_id").first()
    if row is None or row["status"] != JobStatus.RUNNING or row["attempts"] != attempt:
        return StepVerdict.LOST, row
    return (StepVerdict.CANCEL if row["cancel_requested"] else StepVerdict.GO_ON), row


def progress(job_id: uuid.UUID, attempt: int, *, owner_id: int, status_sequence: int,
             step: int, total: int, elapsed_s: float, preview_jpeg: bytes | None) -> bool:
    """Record a running attempt's step (and a preview); hint the owner's pages."""
    fields: dict[str, Any] = {
        "progress_step": step, "progress_total": total, "heartbeat_at": timezone.now(),
        "timings": {"denoise_elapsed_s": round(elapsed_s, 3)},
    }
    if preview_jpeg is not None:
        fields["preview_jpeg"] = preview_jpeg
    updated = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING,
                                 attempts=attempt).update(**fields)
    if updated:
        # The row was just read by the step: hint with what we know instead of reading it.
        events.job_updated(owner_id, job_id, JobStatus.RUNNING, status_sequence, step,
                           "progress")
    return bool(updated)


def succeed(job: Job, video: Video, timings: dict[str, float]) -> bool:
    """Finish the attempt with its video, in one transaction: one job, one output."""
    with transaction.atomic():
        if not _transition(job.id, (JobStatus.RUNNING,), JobStatus.SUCCEEDED,
                           where={"attempts": job.attempts}, progress_step=F("progress_total"),
                           timings=timings):
            return False
        video.save()
    fleet.working_on(job.worker, None)
    _announce(job.id, "succeeded")
    return True


def fail(job: Job, code: str, message: str) -> bool:
    """The attempt failed for a reason that a rerun would not fix."""
    return _end(job, JobStatus.FAILED, "failed", error_code=code, error_message=message)


def cancelled(job: Job) -> bool:
    """The attempt stopped at a step because its owner cancelled it."""
    return _end(job, JobStatus.CANCELLED, "cancelled")


def _end(job: Job, status: JobStatus, change: JobChange, **fields: Any) -> bool:
    if _transition(job.id, (JobStatus.RUNNING,), status, where={"attempts": job.attempts},
                   **fields):
        fleet.working_on(job.worker, None)
        _announce(job.id, change)
        return True
    return False


def requeue_or_fail(job: Job, code: str, message: str, *,
                    seen: dict[str, Any] | None = None, backoff: bool = True) -> JobStatus | None:
    """A crashed attempt: queue the job again (after a back-off) while attempts remain, else
    fail it. A job whose owner asked to cancel it is cancelled instead, never re-queued.
    `seen` are the fields the caller read (the reaper's heartbeat), checked as they change."""
    where = {"attempts": job.attempts, **(seen or {})}
    fleet.working_on(job.worker, None)
    if _transition(job.id, (JobStatus.RUNNING,), JobStatus.CANCELLED,
                   where={**where, "cancel_requested": True}):
        _announce(job.id, "cancelled")
        events.queue_moved()
        return JobStatus.CANCELLED
    if job.attempts < settings.FRAMECRAFT_MAX_ATTEMPTS:
        delay = RETRY_BACKOFF_S * job.attempts if backoff else 0.0
        if _transition(job.id, (JobStatus.RUNNING,), JobStatus.QUEUED, where=where, worker="",
                       heartbeat_at=None, error_code=code, error_message=message,
                       not_before=timezone.now() + timedelta(seconds=delay) if delay else None):
            send_hint(job.id, job.preset, countdown=delay or None)
            _announce(job.id, "requeued")
            events.queue_moved()
            return JobStatus.QUEUED
        return None
    if _transition(job.id, (JobStatus.RUNNING,), JobStatus.FAILED, where=where,
                   error_code=code,
                   error_message=f"{message} (gave up after {job.attempts} attempts)"):
        _announce(job.id, "failed")
        return JobStatus.FAILED
    return None


def worker_gone(worker_name: str, message: str) -> int:
    """A worker is known to be dead (its process group's supervisor saw a rank exit): its
    running jobs are re-queued (or failed, or cancelled) at once, as the reaper would later."""
    gone = 0
    for job in Job.objects.filter(status=JobStatus.RUNNING, worker=worker_name).only(
            "id", "attempts", "worker", "owner_id", "preset"):
        if requeue_or_fail(job, "worker_lost", message, backoff=False):
            gone += 1
            log.warning("job %s: its worker %s died (attempt %d)", job.id, worker_name,
                        job.attempts)
    return gone


def reap_stale() -> int:
    """Re-queue, cancel or fail every running job whose heartbeat is stale; return how many.

    Silence for longer than FRAMECRAFT_STALE_AFTER_SECONDS means the worker is gone (killed,
    out of memory, machine lost). Each change is conditioned on the heartbeat it saw, so a
    reaper racing a worker that comes back to life cannot clobber it.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    reaped = 0
    stale = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
    for job in stale.only("id", "attempts", "heartbeat_at", "worker", "owner_id", "preset"):
        message = f"The worker running this job ({job.worker}) stopped answering."
        if requeue_or_fail(job, "worker_lost", message, seen={"heartbeat_at": job.heartbeat_at},
                           backoff=False):
            reaped += 1
            log.warning("reaped job %s (attempt %d, worker %s)", job.id, job.attempts,
                        job.worker)
    return reaped
