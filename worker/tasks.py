"""Celery tasks. Messages carry only a job id: the Job row holds everything else."""

from __future__ import annotations

import logging
import os
import socket

from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready

from generation import events
from worker import execution, models_volume, reaper

log = logging.getLogger("framecraft.worker")


def worker_name(task: Task | None = None) -> str:
    hostname = getattr(getattr(task, "request", None), "hostname", None) or socket.gethostname()
    return f"{hostname}:{os.getpid()}"


@shared_task(name="framecraft.run_job", bind=True, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True)
def run_job(self: Task, job_id: str) -> str | None:
    status = execution.execute(job_id, worker_name(self))
    return str(status) if status else None


@shared_task(name="framecraft.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> int:
    return reaper.reap_stale_jobs()


@worker_process_init.connect
def _on_worker_process_init(**kwargs: object) -> None:
    # In the child process that runs jobs, after the fork: threads do not survive a fork.
    events.send_from_background_thread()


@worker_ready.connect
def _on_worker_ready(**kwargs: object) -> None:
    resent = reaper.resend_queued_jobs()
    reaped = reaper.reap_stale_jobs()
    if resent or reaped:
        log.info("worker ready: re-sent %d queued job(s), reaped %d stale one(s)", resent, reaped)



@shared_task(name="framecraft.model_operation", bind=True, ignore_result=True)
def model_operation(self: Task, operation_id: int) -> str | None:
    return models_volume.carry_out(operation_id, worker_name(self))
