"""Housekeeping tasks on their own queue, served by a worker without GPU or torch (the one that
delivers webhooks), so that they never wait behind a generation job."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from generation import lifecycle


@shared_task(name="framecraft.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> int:
    reaped = lifecycle.reap_stale()
    # Also the safety net for lost hints: every queue holds one per waiting job.
    lifecycle.top_up_hints(list(settings.FRAMECRAFT_JOB_QUEUES))
    return reaped
