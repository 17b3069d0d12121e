"""Jobs whose worker died: re-queue them while attempts remain, else fail them.

A running job's worker writes a heartbeat every few seconds; silence for longer than
FRAMECRAFT_STALE_AFTER_SECONDS means the process is gone (killed, out of memory, machine
lost). Every change is a compare-and-set on the heartbeat it saw, so a reaper racing a
worker that comes back to life cannot clobber it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from generation import events, services
from generation.models import Job, JobStatus

log = logging.getLogger("framecraft.worker")


def reap_stale_jobs() -> int:
    """Re-queue or fail every running job whose heartbeat is stale; return how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    reaped = 0
    stale = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
    for job in stale.only("id", "attempts", "heartbeat_at", "worker", "owner_id"):
        seen = {"attempts": job.attempts, "heartbeat_at": job.heartbeat_at}
        message = f"The worker running this job ({job.worker}) stopped answering."
        if job.attempts < settings.FRAMECRAFT_MAX_ATTEMPTS:
            moved = Job.objects.transition(job.id, (JobStatus.RUNNING,), JobStatus.QUEUED,
                                           where=seen, worker="", heartbeat_at=None,
                                           error_code="worker_lost", error_message=message)
            if moved:
                services.enqueue(job.id)
        else:
            moved = Job.objects.transition(
                job.id, (JobStatus.RUNNING,), JobStatus.FAILED, where=seen,
                error_code="worker_lost",
                error_message=f"{message} Gave up after {job.attempts} attempts.")
        if moved:
            reaped += 1
            log.warning("reaped job %s (attempt %d, worker %s)", job.id, job.attempts,
                        job.worker)
            services.notify(job.id)
    if reaped:
        events.queue_moved()
    return reaped


def resend_queued_jobs() -> int:
    """Send a message again for every queued job.

    Run when a worker starts: a broker that lost its messages (an embedded Redis that was
    stopped, a flushed queue) must not strand jobs. Extra messages are harmless, since only
    one claim per attempt can succeed.
    """
    ids = list(Job.objects.filter(status=JobStatus.QUEUED).values_list("id", flat=True))
    for job_id in ids:
        services.enqueue(job_id)
    return len(ids)
