"""One run of one job on this worker: claim, heartbeat, generate, store, finish.

The Job row is the only truth. A claim is a compare-and-set (queued → running, attempt + 1)
and every later write is conditioned on that attempt, so a job that was reaped and claimed
again elsewhere can never be finished twice.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from generation import events, services
from generation.models import Job, JobStatus, Video
from worker.catalogue import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    JobCancelled,
)
from worker.progress import JobLost, ProgressReporter
from worker.runtime.encode import encode_mp4, poster_jpeg
from worker.runtime.runner import run_text_to_video

log = logging.getLogger("framecraft.worker")

RETRY_BACKOFF_S = 5.0


def claim(worker_name: str) -> Job | None:
    """Take the next job in fair order for this worker; None when none is waiting.

    A message says that there is work, not which: every queued job has a message, so each
    message takes the job whose turn it is (Job.objects.fair_queue) and a message that finds
    nothing left is dropped. The claim is a compare-and-set, so racing workers never share a job.
    """
    while True:
        candidates = list(Job.objects.fair_queue().runnable().values_list("id", flat=True)[:8])
        if not candidates:
            return None
        for job_id in candidates:
            now = timezone.now()
            claimed = Job.objects.filter(
                pk=job_id, status=JobStatus.QUEUED,
                attempts__lt=settings.FRAMECRAFT_MAX_ATTEMPTS,
            ).update(
                status=JobStatus.RUNNING, status_sequence=F("status_sequence") + 1,
                attempts=F("attempts") + 1, worker=worker_name, started_at=now,
                heartbeat_at=now, updated_at=now, progress_step=0, progress_total=0,
                preview_jpeg=None, error_code="", error_message="", not_before=None,
            )
            if claimed == 1:
                return Job.objects.get(pk=job_id)


class Heartbeat:
    """Proves the worker is alive while a job runs, from a thread: a long step or a long
    decode must not look like a dead worker."""

    def __init__(self, job_id: UUID, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}",
                                        daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.FRAMECRAFT_HEARTBEAT_SECONDS):
                Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING,
                                   attempts=self.attempt).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def request_for(job: Job) -> GenerationRequest:
    p = job.params
    return GenerationRequest(
        preset_id=job.preset, prompt=p["prompt"], negative_prompt=p.get("negative_prompt", ""),
        width=p["width"], height=p["height"], num_frames=p["num_frames"], steps=p["steps"],
        guidance=p["guidance"], seed=p["seed"],
    )


def execute(job_id: UUID | str, worker_name: str) -> JobStatus | None:
    """Run the job if this worker can claim it; return the state it ended in."""
    close_old_connections()
    job = claim(worker_name)
    if job is None:
        log.info("no job waiting for the message about job %s; dropping it", job_id)
        return None
    log.info("job %s claimed by %s (attempt %d, message for %s)", job.id, worker_name,
             job.attempts, job_id)
    _after_change(job, queue_moved=True)
    try:
        return _run(job, worker_name)
    finally:
        events.flush()


def _run(job: Job, worker_name: str) -> JobStatus | None:
    reporter = ProgressReporter(job.id, job.attempts)
    started = time.perf_counter()
    try:
        with Heartbeat(job.id, job.attempts):
            with reporter:  # leaving it waits for the last progress write
                result = run_text_to_video(request_for(job), on_step=reporter.on_step)
            timings = {**result.timings, "progress_s": reporter.busy_s,
                       "claimed_to_result_s": time.perf_counter() - started}
            return _succeed(job, result, worker_name, timings, started)
    except JobLost:
        log.warning("job %s was taken from this worker; stopping", job.id)
        return None
    except JobCancelled:
        return _finish(job, JobStatus.CANCELLED)
    except GenerationError as error:
        log.warning("job %s failed: %s (%s)", job.id, error.message, error.code)
        return _finish(job, JobStatus.FAILED, error_code=str(error.code),
                       error_message=error.message)
    except Exception as error:
        log.exception("job %s crashed on attempt %d", job.id, job.attempts)
        return requeue_or_fail(job, "internal_error",
                               f"The worker hit an unexpected error: {error}")


def requeue_or_fail(job: Job, code: str, message: str) -> JobStatus | None:
    """Give the job another attempt if it has any left, else fail it with the reason."""
    if job.attempts < settings.FRAMECRAFT_MAX_ATTEMPTS:
        backoff = RETRY_BACKOFF_S * job.attempts
        if Job.objects.transition(job.id, (JobStatus.RUNNING,), JobStatus.QUEUED,
                                  where={"attempts": job.attempts}, worker="",
                                  heartbeat_at=None, error_code=code, error_message=message,
                                  not_before=timezone.now() + timedelta(seconds=backoff)):
            services.enqueue(job.id, countdown=backoff)
            _after_change(job)
            return JobStatus.QUEUED
        return None
    return _finish(job, JobStatus.FAILED, error_code=code, error_message=(
        f"{message} (gave up after {job.attempts} attempts)"))


def _finish(job: Job, status: JobStatus, **fields: str) -> JobStatus | None:
    if Job.objects.transition(job.id, (JobStatus.RUNNING,), status,
                              where={"attempts": job.attempts}, **fields):
        _after_change(job)
        return status
    return None


def _succeed(job: Job, result: GenerationResult, worker_name: str, timings: dict[str, float],
             started: float) -> JobStatus | None:
    recipe = {
        "kind": job.kind, "preset": job.preset, **job.params,
        "fps": result.fps, "timings": timings, "device": result.device,
        "memory_profile": result.memory_profile, "vae_tiling": result.vae_tiling,
        "gpu": _gpu_name(result.device),
        "worker": worker_name,
        "attempts": job.attempts, "job_id": str(job.id),
    }
    store_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="framecraft-") as tmp:
        path = Path(tmp) / "video.mp4"
        info = encode_mp4(result.frames, result.fps, path, metadata={
            "title": job.params.get("prompt", "")[:200],
            "comment": json.dumps(recipe, sort_keys=True),
        })
        poster = poster_jpeg(result.frames[0])
        video = Video(owner_id=job.owner_id, job=job, recipe=recipe, kind=job.kind,
                      preset=job.preset, prompt=job.params.get("prompt", ""), width=info.width,
                      height=info.height, fps=info.fps, frame_count=info.frame_count,
                      duration_s=info.duration_s, size_bytes=info.size_bytes)
        with path.open("rb") as stream:
            video.file.save("video.mp4", File(stream), save=False)
        video.poster.save("poster.jpg", ContentFile(poster), save=False)
    timings["store_s"] = time.perf_counter() - store_started
    timings["job_s"] = time.perf_counter() - started
    try:
        with transaction.atomic():
            if not Job.objects.transition(job.id, (JobStatus.RUNNING,), JobStatus.SUCCEEDED,
                                          where={"attempts": job.attempts},
                                          progress_step=F("progress_total"),
                                          timings=timings):
                raise JobLost(f"job {job.id} changed while its video was stored")
            video.save()
    except JobLost:
        # Cancelled or taken away at the last moment: the files belong to no one.
        video.file.delete(save=False)
        video.poster.delete(save=False)
        log.warning("job %s: output discarded, the job was no longer ours", job.id)
        return None
    log.info("job %s done: video %s (%.1f s)", job.id, video.id, info.duration_s)
    _after_change(job)
    return JobStatus.SUCCEEDED


def _gpu_name(device: str) -> str:
    if not device.startswith("cuda"):
        return ""
    import torch  # the worker has it; imported here to keep Django-side imports light

    return torch.cuda.get_device_name(torch.device(device))


def _after_change(job: Job, queue_moved: bool = False) -> None:
    services.notify(job.id)
    if queue_moved:
        events.queue_moved()
