"""Celery tasks. Messages carry only a job id: the Job row holds everything else."""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery import Task, shared_task
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.db import connection

from generation import events, fleet, lifecycle
from worker import control_preview, execution, mask_tracking, models_volume, prompt_help
from worker.capacity import current_capacity
from worker.runtime import parallel

log = logging.getLogger("framecraft.worker")

# This worker's node name and queues, read in the parent before the pool forks its child.
_node = {"hostname": socket.gethostname(), "queues": list[str]()}


def worker_name(task: Task | None = None) -> str:
    hostname = getattr(getattr(task, "request", None), "hostname", None) or _node["hostname"]
    return f"{hostname}:{os.getpid()}"


def _job_queues() -> list[str]:
    return [queue for queue in _node["queues"] if queue in settings.FRAMECRAFT_JOB_QUEUES]


@shared_task(name="framecraft.run_job", bind=True, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True)
def run_job(self: Task, job_id: str) -> str | None:
    status = execution.execute(job_id, worker_name(self))
    return str(status) if status else None


@worker_init.connect
def _on_worker_init(sender: object = None, **kwargs: object) -> None:
    _node["hostname"] = getattr(sender, "hostname", None) or _node["hostname"]
    queues = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    consumed = getattr(queues, "consume_from", None) or {}
    _node["queues"] = list(consumed)


class _FleetReporter:
    """Tells the fleet table, every heartbeat, that this job-running process is alive and what
    it holds; a claim reads it to leave slow jobs to idle bigger GPUs."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        threading.Thread(target=self._loop, name="fleet-report", daemon=True).start()

    def _loop(self) -> None:
        try:
            while True:
                try:
                    _report()
                except Exception:  # the fleet table is advisory; the worker goes on
                    log.exception("could not report this worker to the fleet table")
                if self.stop.wait(settings.FRAMECRAFT_HEARTBEAT_SECONDS):
                    return
        finally:
            connection.close()


def _report() -> None:
    capacity = current_capacity()
    gpu_name = ""
    if capacity.gpu_total_gb:
        import torch

        gpu_name = torch.cuda.get_device_name()
    group = parallel.current()
    # A group's other ranks report through rank 0, after each job; rank 0's own is live.
    memory = parallel.memory_report()
    if group is not None and group.memory:
        memory = [*memory, *group.memory[len(memory):]]
    fleet.report(worker_name(), queues=_job_queues(), gpu_name=gpu_name,
                 gpu_total_gb=capacity.gpu_total_gb, loaded=sorted(capacity.loaded),
                 gpu_count=capacity.gpus, gpu_memory=memory)


_reporter: _FleetReporter | None = None


@worker_process_init.connect
def _on_worker_process_init(**kwargs: object) -> None:
    # In the child process that runs jobs, after the fork: threads do not survive a fork.
    _start_job_process()


def _start_job_process() -> None:
    global _reporter
    events.send_from_background_thread()
    if _job_queues():
        _reporter = _FleetReporter()
        _choose_attention()


def _choose_attention() -> None:
    """Quality's attention kernel for this GPU, measured now (once per GPU and torch; then read
    from the models volume) rather than in the first job."""
    from worker.runtime.cache import select_device
    from worker.runtime.speed import best_attention_backend

    device = select_device()
    if device.type != "cuda":
        return
    try:
        log.info("attention kernel for this GPU: %s", best_attention_backend(device))
    except Exception:  # the first job measures it again
        log.exception("could not measure the attention kernels at start")


@worker_process_shutdown.connect
def _on_worker_process_shutdown(**kwargs: object) -> None:
    if _reporter is not None:
        _reporter.stop.set()
        fleet.gone(worker_name())


@worker_shutdown.connect
def _on_worker_shutdown(**kwargs: object) -> None:
    if parallel.current() is not None:  # a group's rank 0 runs jobs in its main process
        _on_worker_process_shutdown()
        parallel.quit_followers()


@worker_ready.connect
def _on_worker_ready(**kwargs: object) -> None:
    # Only workers that run jobs look after job hints; a models worker leaves them alone.
    queues = _job_queues()
    if not queues:
        return
    if parallel.current() is not None:
        # A group's rank 0 runs jobs in this process (the solo pool), never in a forked child.
        _start_job_process()
    reaped = lifecycle.reap_stale()
    sent = lifecycle.top_up_hints(queues)
    if sent or reaped:
        log.info("worker ready: sent %d missing hint(s), reaped %d stale job(s)", sent, reaped)


@shared_task(name="framecraft.model_operation", bind=True, ignore_result=True)
def model_operation(self: Task, operation_id: int) -> str | None:
    return models_volume.carry_out(operation_id, worker_name(self))


@shared_task(name="framecraft.remove_background", ignore_result=True)
def remove_background(photo_id: int) -> str:
    from worker.backgrounds import make_cutout  # torch and transformers: the models worker's

    return make_cutout(photo_id)


@shared_task(name="framecraft.control_preview", ignore_result=True)
def make_control_preview(preview_id: str) -> str | None:
    return control_preview.make_preview(preview_id)


@shared_task(name="framecraft.track_mask", ignore_result=True)
def track_mask(tracking_id: str) -> str | None:
    return mask_tracking.make_mask(tracking_id)


# A suggestion nobody waits for past the page's patience (generation.prompt_help) is stopped.
@shared_task(name="framecraft.improve_prompt", ignore_result=True, soft_time_limit=220,
             time_limit=240)
def improve_prompt(request_id: str) -> str | None:
    return prompt_help.improve(request_id)
