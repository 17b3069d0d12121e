"""Hints sent through the channel layer when jobs change.

They carry ids and sequence numbers, never state: the consumer reads the job from the
database and renders it, so a lost, late or duplicated hint cannot show a wrong card.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Literal, TypedDict
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import Signal

from generation.models import Job, JobStatus

log = logging.getLogger("framecraft.events")

QUEUE_GROUP = "queue"

# Sent with owner_id, job_id and change for every committed job change, in the process that
# made it; the API's webhooks listen (api.apps).
job_changed = Signal()


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# What happened to a job; each lifecycle transition emits its own.
JobChange = Literal["submitted", "claimed", "progress", "succeeded", "failed", "cancelled",
                    "cancel_requested", "requeued"]


class JobUpdated(TypedDict):
    type: Literal["job.updated"]
    job_id: str
    change: JobChange
    status: str
    status_sequence: int
    progress_step: int


class JobsChanged(TypedDict):
    """A job was added to or left the user's list: the whole list is rendered again."""

    type: Literal["jobs.changed"]


class QueueMoved(TypedDict):
    """A job joined or left the queue: the person's waiting jobs' positions moved."""

    type: Literal["queue.moved"]


class BackgroundSender:
    """Sends hints from an event loop on its own thread, for processes without one.

    A GPU worker sends several hints a second from inside the pipeline's step callback;
    handing them to a long-lived loop keeps one Redis connection and returns at once, where
    async_to_sync would build a loop and a connection for every hint.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pending: set[concurrent.futures.Future[None]] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.loop.run_forever, name="channel-hints",
                                       daemon=True)
        self.thread.start()

    def send(self, group: str, event: dict[str, object]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, event), self.loop)
        with self.lock:
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self.lock:
            self.pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("a hint was not sent: %s", future.exception())

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every hint handed over so far has gone out."""
        with self.lock:
            waiting = list(self.pending)
        concurrent.futures.wait(waiting, timeout=timeout)


_background: BackgroundSender | None = None


def send_from_background_thread() -> None:
    """Switch this process to the background sender (call it after fork, in the worker)."""
    global _background
    _background = BackgroundSender()


def flush() -> None:
    if _background is not None:
        _background.flush()


def _send(group: str, event: JobUpdated | JobsChanged | QueueMoved) -> None:
    if _background is not None:
        _background.send(group, dict(event))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def job_updated(user_id: int, job_id: UUID, status: str, status_sequence: int,
                progress_step: int, change: JobChange) -> None:
    _send(user_group(user_id), JobUpdated(
        type="job.updated", job_id=str(job_id), change=change, status=status,
        status_sequence=status_sequence, progress_step=progress_step,
    ))
    job_changed.send(sender=None, owner_id=user_id, job_id=job_id, change=change)


def jobs_changed(user_id: int) -> None:
    _send(user_group(user_id), JobsChanged(type="jobs.changed"))


def queue_moved() -> None:
    """A job joined or left the queue: the places of the waiting jobs moved. Only the people
    with a job waiting have places to show, so only their groups hear it: sent to every open
    studio (QUEUE_GROUP), each job start made every socket read and render its person's
    waiting cards, work that grew with the number of people online rather than waiting."""
    for owner_id in _waiting_owners():
        _send(user_group(owner_id), QueueMoved(type="queue.moved"))


def _waiting_owners() -> list[int]:
    """The people with a job in the queue now (an index-only scan of job_waiting_order)."""
    return list(Job.objects.filter(status=JobStatus.QUEUED).order_by()
                .values_list("owner_id", flat=True).distinct())


def everyones_jobs_changed() -> None:
    """Every open studio renders its list again (the whole queue was held or released)."""
    _send(QUEUE_GROUP, JobsChanged(type="jobs.changed"))
