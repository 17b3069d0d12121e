"""Progress of a running job: throttled writes to its row, hints to the owner's pages.

Also the cooperative cancel: every step reads the job's cancel flag and raises
``JobCancelled`` from the pipeline's step callback, so a job stops within one step.

The step callback runs on the pipeline's thread, between two denoising steps, so it does only
what must happen there: that one read, and the decision whether progress is due. Writing the
progress (the row update, a preview JPEG, the hint to the pages) happens on a writer thread,
so the model never waits for it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from uuid import UUID

from django.conf import settings
from django.db import connection

from generation import lifecycle
from generation.lifecycle import StepVerdict
from worker.catalogue import JobCancelled, StepInfo
from worker.outage import DATABASE_AWAY, database_away
from worker.runtime.preview import latents_to_preview_jpeg

log = logging.getLogger("framecraft.worker")

# A preview costs a projection and a JPEG encode: a handful per job is enough to watch.
PREVIEWS_PER_JOB = 8


class JobLost(JobCancelled):
    """The job is no longer ours (reaped and claimed again elsewhere): stop quietly."""


@dataclasses.dataclass(frozen=True)
class _Progress:
    step: int
    total: int
    elapsed_s: float
    owner_id: int
    status_sequence: int
    latents: object | None = None  # a copy, taken when a preview is due


class ProgressReporter:
    """Use as a context manager around the pipeline call; pass `on_step` as its callback.

    Leaving the block waits until every progress write has been made, so the job's final
    state is always written after its last progress.
    """

    def __init__(self, job_id: UUID, attempt: int, interval: float | None = None) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.interval = settings.FRAMECRAFT_PROGRESS_INTERVAL if interval is None else interval
        self.last_sent = float("-inf")
        self.last_preview_step = 0
        self.events_sent = 0
        self.preview_failed = False  # logged once per job, not at every step
        # Time spent in the step callback, inside the pipeline call: what progress costs a job.
        self.busy_s = 0.0
        self._pending: _Progress | None = None
        self._wake = threading.Condition()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name=f"progress-{job_id}",
                                        daemon=True)

    def __enter__(self) -> ProgressReporter:
        self._writer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._writer.join()

    def on_step(self, info: StepInfo) -> None:
        started = time.perf_counter()
        try:
            self._on_step(info)
        finally:
            self.busy_s += time.perf_counter() - started

    def _on_step(self, info: StepInfo) -> None:
        try:
            verdict, state = lifecycle.step_verdict(self.job_id, self.attempt)
        except DATABASE_AWAY:
            # A cancel asked meanwhile is read at the first step after it is back.
            database_away(self.job_id, "reading the cancel flag")
            return
        if verdict is StepVerdict.LOST or state is None:
            raise JobLost(f"job {self.job_id} is no longer this worker's")
        if verdict is StepVerdict.CANCEL:
            raise JobCancelled()
        now = time.monotonic()
        if now - self.last_sent < self.interval and info.step < info.total:
            return
        self.last_sent = now
        latents = None
        preview_every = max(1, info.total // PREVIEWS_PER_JOB)
        if info.latents is not None and info.step - self.last_preview_step >= preview_every:
            # The pipeline goes on with its latents; the writer projects a copy.
            latents = info.latents.detach().clone()
            self.last_preview_step = info.step
        self._hand_over(_Progress(info.step, info.total, info.elapsed_s, state["owner_id"],
                                  state["status_sequence"], latents))

    def _hand_over(self, progress: _Progress) -> None:
        with self._wake:
            older = self._pending
            if older is not None and progress.latents is None and older.latents is not None:
                # Newer progress replaces what was not written yet, but keeps its preview.
                progress = dataclasses.replace(progress, latents=older.latents)
            self._pending = progress
            self._wake.notify()

    def _write_loop(self) -> None:
        try:
            while True:
                with self._wake:
                    while self._pending is None and not self._closing:
                        self._wake.wait()
                    progress, self._pending = self._pending, None
                if progress is None:
                    return  # closing, and everything handed over is written
                try:
                    self._write(progress)
                except DATABASE_AWAY:
                    database_away(self.job_id, "writing progress")
                except Exception:  # progress is best effort: the job goes on without it
                    log.exception("job %s: writing progress failed", self.job_id)
        finally:
            connection.close()  # this thread's own connection

    def _write(self, progress: _Progress) -> None:
        preview = None
        if progress.latents is not None:
            # A preview is an extra: latents it cannot show must never cost the step counter.
            try:
                preview = latents_to_preview_jpeg(progress.latents)
            except Exception:
                if not self.preview_failed:
                    log.warning("job %s: no preview of latents shaped %s", self.job_id,
                                tuple(getattr(progress.latents, "shape", ())), exc_info=True)
                self.preview_failed = True
        if lifecycle.progress(self.job_id, self.attempt, owner_id=progress.owner_id,
                              status_sequence=progress.status_sequence, step=progress.step,
                              total=progress.total, elapsed_s=progress.elapsed_s,
                              preview_jpeg=preview):
            self.events_sent += 1
