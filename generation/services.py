"""What users do to jobs: submit, cancel, retry. Views and the admin call these, nothing else.

Every change is a compare-and-set on the Job row; the Celery message (only the job id) is
sent after the transaction commits, so a rolled-back request enqueues nothing.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from generation import events
from generation.models import Job, JobKind, JobOrigin, JobStatus, Video, Visibility
from webapp.celery import app as celery_app

log = logging.getLogger("framecraft.jobs")

RUN_JOB_TASK = "framecraft.run_job"


class JobLimitReached(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already have {limit} job{'s' if limit != 1 else ''} waiting or running, "
            "the most you may have at once. Wait for one to finish or cancel one."
        )
        self.limit = limit


def enqueue(job_id: UUID, countdown: float | None = None) -> None:
    """Send the job's id to the workers. Call it only once the row is committed."""
    celery_app.send_task(RUN_JOB_TASK, args=[str(job_id)], countdown=countdown,
                         queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def _enqueue_on_commit(job: Job) -> None:
    transaction.on_commit(lambda: enqueue(job.id))


def _announce_on_commit(job: Job) -> None:
    transaction.on_commit(lambda: events.jobs_changed(job.owner_id))
    # Round-robin order: a newcomer's job may go ahead of others' waiting jobs.
    transaction.on_commit(events.queue_moved)


def submit(user: User, preset_id: str, params: dict[str, Any],
           kind: str = JobKind.TEXT_TO_VIDEO, retry_of: Job | None = None,
           source_video: Video | None = None) -> Job:
    """Create a queued job for ``user`` and enqueue it once the transaction commits."""
    with transaction.atomic():
        # Lock the user row so that two simultaneous submissions cannot both pass the cap.
        User.objects.select_for_update().filter(pk=user.pk).first()
        limit = user.active_job_limit
        if Job.objects.owned_by(user).active().count() >= limit:
            raise JobLimitReached(limit)
        origin = (JobOrigin.RETRY if retry_of else
                  JobOrigin.REMIX if source_video else JobOrigin.NEW)
        job = Job.objects.create(owner=user, kind=kind, preset=preset_id, params=params,
                                 retry_of=retry_of, source_video=source_video, origin=origin)
        _enqueue_on_commit(job)
        _announce_on_commit(job)
    log.info("job %s submitted by user %s (%s)", job.id, user.pk, preset_id)
    return job


def cancel(job: Job) -> bool:
    """Cancel a queued job at once; ask a running one to stop at its next step."""
    if Job.objects.transition(job.id, (JobStatus.QUEUED,), JobStatus.CANCELLED,
                              cancel_requested=True):
        # The queued message stays in the broker; the worker's claim will find the job
        # cancelled and drop it.
        transaction.on_commit(events.queue_moved)
        _notify_on_commit(job.id)
        return True
    updated = Job.objects.filter(pk=job.id, status=JobStatus.RUNNING,
                                 cancel_requested=False).update(cancel_requested=True)
    if updated:
        _notify_on_commit(job.id)
    return bool(updated)


def retry(job: Job) -> Job:
    """A new job with the same recipe (seed included) as a failed or cancelled one."""
    if not job.can_retry:
        raise ValueError("Only failed or cancelled jobs can be retried.")
    return submit(job.owner, job.preset, dict(job.params), kind=job.kind, retry_of=job,
                  source_video=job.source_video)


def notify(job_id: UUID) -> None:
    """Tell the owner's open pages that the job changed (read back from the database)."""
    job = Job.objects.filter(pk=job_id).values(
        "owner_id", "status", "status_sequence", "progress_step").first()
    if job is not None:
        events.job_updated(job["owner_id"], job_id, job["status"], job["status_sequence"],
                           job["progress_step"])


def _notify_on_commit(job_id: UUID) -> None:
    transaction.on_commit(lambda: notify(job_id))


def remixable_video(user: User, video_id: object) -> Video | None:
    """A video whose recipe ``user`` may start from: one of theirs, or a public one."""
    try:
        return Video.objects.filter(
            Q(owner=user) | Q(visibility=Visibility.PUBLIC), pk=video_id).first()
    except (ValueError, ValidationError):
        return None


def queue_position(job: Job) -> int | None:
    """1 for the next job to run (in the workers' fair order); None when it is not waiting."""
    if job.status != JobStatus.QUEUED:
        return None
    order = list(Job.objects.fair_queue().values_list("id", flat=True))
    return order.index(job.id) + 1 if job.id in order else None
