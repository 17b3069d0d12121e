"""Progress of a running job: throttled writes to its row, hints to the owner's pages.

Also the cooperative cancel: every step reads the job's cancel flag and raises
``JobCancelled`` from the pipeline's step callback, so a job stops within one step.
"""

from __future__ import annotations

import time
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from generation import events
from generation.models import Job, JobStatus
from worker.runtime.preview import latents_to_preview_jpeg
from worker.runtime.request import JobCancelled, StepInfo

# A preview costs a projection and a JPEG encode: a handful per job is enough to watch.
PREVIEWS_PER_JOB = 8


class JobLost(JobCancelled):
    """The job is no longer ours (reaped and claimed again elsewhere): stop quietly."""


class ProgressReporter:
    def __init__(self, job_id: UUID, attempt: int, interval: float | None = None) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.interval = settings.FRAMECRAFT_PROGRESS_INTERVAL if interval is None else interval
        self.last_sent = float("-inf")
        self.last_preview_step = 0
        self.events_sent = 0
        # Time spent in here, inside the pipeline call: the overhead our progress costs a job.
        self.busy_s = 0.0

    def on_step(self, info: StepInfo) -> None:
        started = time.perf_counter()
        try:
            self._on_step(info)
        finally:
            self.busy_s += time.perf_counter() - started

    def _on_step(self, info: StepInfo) -> None:
        state = Job.objects.filter(pk=self.job_id).values(
            "cancel_requested", "status", "attempts", "status_sequence", "owner_id").first()
        if state is None or state["status"] != JobStatus.RUNNING or (
                state["attempts"] != self.attempt):
            raise JobLost(f"job {self.job_id} is no longer this worker's")
        if state["cancel_requested"]:
            raise JobCancelled()
        now = time.monotonic()
        if now - self.last_sent < self.interval and info.step < info.total:
            return
        self.last_sent = now
        fields: dict[str, object] = {
            "progress_step": info.step,
            "progress_total": info.total,
            "heartbeat_at": timezone.now(),
            "timings": {"denoise_elapsed_s": round(info.elapsed_s, 3)},
        }
        preview_every = max(1, info.total // PREVIEWS_PER_JOB)
        if info.latents is not None and info.step - self.last_preview_step >= preview_every:
            fields["preview_jpeg"] = latents_to_preview_jpeg(info.latents)
            self.last_preview_step = info.step
        updated = Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING,
                                     attempts=self.attempt).update(**fields)
        if updated:
            # The row was just read: hint with what we know instead of reading it again.
            events.job_updated(state["owner_id"], self.job_id, JobStatus.RUNNING,
                               state["status_sequence"], info.step)
            self.events_sent += 1
