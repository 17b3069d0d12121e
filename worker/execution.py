"""One run of one job on this worker: run the pipeline, encode the video, store it.

Every state change (claim, heartbeat, progress, finish, requeue) is the lifecycle's
(generation/lifecycle.py); this module only does the work between them.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
import threading
import time
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection

from generation import events, lifecycle
from generation.inputs import load_media, source_audio
from generation.models import Job, JobStatus, Video
from worker.capacity import current_capacity
from worker.catalogue import GenerationError, GenerationResult, JobCancelled
from worker.outage import DATABASE_AWAY, database_away, when_database_answers
from worker.progress import JobLost, ProgressReporter
from worker.runtime import parallel
from worker.runtime.encode import encode_mp4, poster_jpeg
from worker.runtime.runner import run_generation

log = logging.getLogger("framecraft.worker")


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
                try:
                    lifecycle.heartbeat(self.job_id, self.attempt)
                except DATABASE_AWAY:
                    database_away(self.job_id, "heartbeat")
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def execute(job_id: UUID | str, worker_name: str) -> JobStatus | None:
    """Run the next job this worker can claim; return the state it ended in."""
    close_old_connections()
    job = lifecycle.claim(worker_name, current_capacity())
    if job is None:
        log.info("no job this worker can run is waiting (message for %s); dropping it", job_id)
        return None
    log.info("job %s claimed by %s (attempt %d, message for %s)", job.id, worker_name,
             job.attempts, job_id)
    try:
        return _run(job, worker_name)
    finally:
        events.flush()
        # A process group whose ranks fell out of step restarts (worker.group re-queues
        # nothing then: the job's state is already written).
        parallel.exit_if_broken()


def _run(job: Job, worker_name: str) -> JobStatus | None:
    reporter = ProgressReporter(job.id, job.attempts)
    started = time.perf_counter()
    try:
        with Heartbeat(job.id, job.attempts):
            # Everything the job reads from the database is read before the model runs: after
            # it only the result is written, which waits out a database that went away.
            spec, media, sound = lifecycle.spec_of(job), load_media(job), source_audio(job)
            request = spec.to_request(media)
            with reporter:  # leaving it waits for the last progress write
                # In a process group, rank 0 leads the other ranks through the job; a
                # helper model's job (an upscale) is the spec's own.
                run = (spec.run if spec.runs_on_helper
                       else parallel.run if parallel.current() else run_generation)
                result = run(request, on_step=reporter.on_step)
            result = spec.finish(media, result)
            result = spec.soundtrack(sound, result)
            timings = {**result.timings, "progress_s": reporter.busy_s,
                       "claimed_to_result_s": time.perf_counter() - started}
            return _store(job, result, worker_name, timings, started,
                          loras=request.lora_recipe())
    except JobLost:
        log.warning("job %s was taken from this worker; stopping", job.id)
        return None
    except JobCancelled:
        return JobStatus.CANCELLED if lifecycle.cancelled(job) else None
    except GenerationError as error:
        log.warning("job %s failed: %s (%s)", job.id, error.message, error.code)
        return JobStatus.FAILED if lifecycle.fail(job, str(error.code), error.message) else None
    except Exception as error:
        log.exception("job %s crashed on attempt %d", job.id, job.attempts)
        return lifecycle.requeue_or_fail(job, "internal_error",
                                         f"The worker hit an unexpected error: {error}")


def _store(job: Job, result: GenerationResult, worker_name: str, timings: dict[str, float],
           started: float, loras: list[dict[str, object]] | None = None) -> JobStatus | None:
    # The recipe is frozen here: the copy in the MP4 and the copy in the database are equal.
    # Storing and the job's whole time are known only later and go to the job's timings.
    recipe = copy.deepcopy({
        "kind": job.kind, "preset": job.preset, **job.params,
        # The LoRAs as they were when the job ran (names may change, files may go).
        **({"loras": loras} if loras else {}),
        "fps": result.fps, "timings": timings, "device": result.device,
        "memory_profile": result.memory_profile, "vae_tiling": result.vae_tiling,
        "acceleration": result.speed,
        # The sound as the file carries it (the encoder fits it to the picture's length).
        **({"audio": {**result.audio.recipe(), "duration_s": round(len(result.frames)
                                                                 / result.fps, 4)}}
           if result.audio is not None else {}),
        "gpu": _gpu_name(result.device),
        "worker": worker_name,
        "attempts": job.attempts, "job_id": str(job.id),
    })
    store_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="framecraft-") as tmp:
        path = Path(tmp) / "video.mp4"
        info = encode_mp4(result.frames, result.fps, path, metadata={
            "title": job.params.get("prompt", "")[:200],
            "comment": json.dumps(recipe, sort_keys=True),
        }, audio=result.audio)
        poster = poster_jpeg(result.frames[0])
        video = Video(owner_id=job.owner_id, job=job, recipe=recipe, kind=job.kind,
                      preset=job.preset, prompt=job.params.get("prompt", ""), width=info.width,
                      height=info.height, fps=info.fps, frame_count=info.frame_count,
                      duration_s=info.duration_s, size_bytes=info.size_bytes)
        with path.open("rb") as stream:
            video.file.save("video.mp4", File(stream), save=False)
        video.poster.save("poster.jpg", ContentFile(poster), save=False)
    job_timings = {**timings, "store_s": time.perf_counter() - store_started,
                   "job_s": time.perf_counter() - started}
    # A write whose answer was lost with the connection may have committed: the row says.
    if not when_database_answers(
            lambda: lifecycle.succeed(job, video, job_timings)
            or Video.objects.filter(pk=video.pk).exists(), job.id, "storing the result"):
        # Cancelled or taken away at the last moment: the files belong to no one.
        video.file.delete(save=False)
        video.poster.delete(save=False)
        log.warning("job %s: output discarded, the job was no longer ours", job.id)
        return None
    log.info("job %s done: video %s (%.1f s)", job.id, video.id, info.duration_s)
    return JobStatus.SUCCEEDED


def _gpu_name(device: str) -> str:
    if not device.startswith("cuda"):
        return ""
    import torch  # the worker has it; imported here to keep Django-side imports light

    return str(torch.cuda.get_device_name(torch.device(device)))
