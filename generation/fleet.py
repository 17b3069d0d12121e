"""The GPU workers as the database knows them, and the queues that reach them.

Each worker process reports itself (queues, GPUs, their memory, models held warm, current job)
every few seconds; claims read it so that a small GPU leaves a job that it could only run slowly
to a bigger one that is idle, and so that jobs planned for a group of GPUs go to such a group
(`claim_scope`). A drained worker node (`drain`) finishes its job and claims no more. Job
queues are GPU classes named in settings (`FRAMECRAFT_JOB_QUEUES`); every class gets a hint
for every job, and each worker claims only what it can run, so a hint never strands a job on a
worker that cannot take it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from generation.models import WorkerDrain, WorkerState, node_of
from worker.catalogue.speed import gpu_name_has_fp8


def job_queues() -> list[str]:
    """Every GPU class hears of every job; a worker that cannot run it leaves it alone."""
    return list(settings.FRAMECRAFT_JOB_QUEUES)


def report(name: str, *, queues: list[str], gpu_name: str, gpu_total_gb: float,
           loaded: list[str], gpu_count: int = 1,
           gpu_memory: list[dict[str, float]] | None = None) -> None:
    """A worker says it is alive, and what it has."""
    WorkerState.objects.update_or_create(name=name, defaults={
        "queues": queues, "gpu_name": gpu_name, "gpu_total_gb": gpu_total_gb,
        "gpu_count": gpu_count, "gpu_memory": gpu_memory or [], "loaded": loaded,
        "seen_at": timezone.now()})


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


def drain(node_or_name: str) -> str:
    """Tell a worker node to finish its job and take no more; returns the node drained."""
    node = node_of(node_or_name)
    WorkerDrain.objects.get_or_create(node=node)
    return node


def undrain(node_or_name: str) -> bool:
    return WorkerDrain.objects.filter(node=node_of(node_or_name)).delete()[0] > 0


def is_draining(name: str) -> bool:
    return WorkerDrain.objects.filter(node=node_of(name)).exists()


def draining_nodes() -> set[str]:
    return set(WorkerDrain.objects.values_list("node", flat=True))


def claim_scope(name: str, gpus: int) -> tuple[int, int | None]:
    """Which jobs, by their planned GPU count, a worker with `gpus` GPUs may take now:
    (least, most), most None for no bound.

    Its own count always. Smaller jobs too, unless a live worker with fewer GPUs is idle (a
    group is kept for jobs worth it). Bigger jobs only while no live worker has more GPUs than
    this one (a small worker runs them slowly rather than never).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    others = (WorkerState.objects.filter(seen_at__gte=cutoff).exclude(name=name)
              .values_list("name", "gpu_count", "job_id"))
    drained = draining_nodes()
    live = [(count, job_id is None) for other, count, job_id in others
            if node_of(other) not in drained]
    least = gpus if any(count < gpus and idle for count, idle in live) else 1
    biggest = max((count for count, _ in live), default=0)
    return least, (gpus if biggest > gpus else None)


def bigger_idle_worker(name: str, gpu_total_gb: float) -> bool:
    """Whether another live worker with more GPU memory has nothing to do."""
    cutoff = timezone.now() - timedelta(seconds=settings.FRAMECRAFT_STALE_AFTER_SECONDS)
    return WorkerState.objects.filter(
        seen_at__gte=cutoff, job__isnull=True, gpu_total_gb__gt=gpu_total_gb,
    ).exclude(name=name).exists()
