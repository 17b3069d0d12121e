"""The GPU workers as the database knows them, and the queues that reach them.

Each worker process reports itself (queues, GPU, models held warm, current job) every few
seconds; claims read it so that a small GPU leaves a job that it could only run slowly to a
bigger one that is idle. Job queues are GPU classes named in settings
(`FRAMECRAFT_JOB_QUEUES`); every class gets a hint for every job, and each worker claims only
what it can run, so a hint never strands a job on a worker that cannot take it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from generation.models import WorkerState
from worker.catalogue.speed import gpu_name_has_fp8


def job_queues() -> list[str]:
    """Every GPU class hears of every job; a worker that cannot run it leaves it alone."""
    return list(settings.FRAMECRAFT_JOB_QUEUES)


def report(name: str, *, queues: list[str], gpu_name: str, gpu_total_gb: float,
           loaded: list[str]) -> None:
    """A worker says it is alive, and what it has."""
    WorkerState.objects.update_or_create(name=name, defaults={
        "queues": queues, "gpu_name": gpu_name, "gpu_total_gb": gpu_total_gb,
        "loaded": loaded, "seen_at": timezone.now()})


def working_on(name: str, job_id: uuid.UUID | None) -> None:
    WorkerState.objects.filter(name=name).update(job_id=job_id, seen_at=timezone.now())


def gone(name: str) -> None:
    WorkerState.objects.filter(name=name).delete()


def alive() -> list[WorkerState]:
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    return list(WorkerState.objects.filter(seen_at__gte=cutoff))


def fp8_offered() -> bool:
    """Whether a live worker's GPU has fp8 (by its name; the worker checks the real thing)."""
    return any(gpu_name_has_fp8(worker.gpu_name) for worker in alive() if worker.gpu_name)


def bigger_idle_worker(name: str, gpu_total_gb: float) -> bool:
    """Whether another live worker with more GPU memory has nothing to do."""
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    return WorkerState.objects.filter(
        seen_at__gte=cutoff, job__isnull=True, gpu_total_gb__gt=gpu_total_gb,
    ).exclude(name=name).exists()
