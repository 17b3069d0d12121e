"""The websocket that keeps a user's job cards live.

Messages from the channel layer are hints that name a job; the consumer reads the job from
the database and sends the same template partial the page renders (htmx's ws extension swaps
it in by id), so a lost, late or duplicated hint never shows a wrong state.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from generation.events import QUEUE_GROUP, user_group
from generation.models import Job, JobStatus
from generation.queries import recent_jobs, with_queue_positions

# Close codes in the application range, so the browser can tell why it was refused.
CLOSE_UNAUTHENTICATED = 4401


class JobsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        # What this socket last showed of each job: duplicates and stale hints are skipped.
        self.shown: dict[str, tuple[int, int]] = {}
        self.groups_joined = [user_group(user.pk), QUEUE_GROUP]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # A tab that (re)connects gets the current state at once.
        await self.send(text_data=await self._render_list())

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Server-to-browser only: whatever a browser sends is ignored, never trusted.
        return None

    async def job_updated(self, event: dict[str, Any]) -> None:
        html = await self._render_card(event["job_id"])
        if html:
            await self.send(text_data=html)

    async def jobs_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=await self._render_list())

    async def queue_moved(self, event: dict[str, Any]) -> None:
        for html in await self._render_waiting_cards():
            await self.send(text_data=html)

    @database_sync_to_async
    def _render_card(self, job_id: str) -> str | None:
        job = Job.objects.select_related("video").filter(pk=job_id, owner=self.user).first()
        if job is None:
            return None
        key = (job.status_sequence, job.progress_step)
        if self.shown.get(str(job.id)) == key:
            return None
        self.shown[str(job.id)] = key
        return self._card(with_queue_positions([job])[0])

    @database_sync_to_async
    def _render_waiting_cards(self) -> list[str]:
        """Every waiting card of this user again: their places in the queue moved."""
        waiting = with_queue_positions(
            Job.objects.filter(owner=self.user, status=JobStatus.QUEUED).defer("preview_jpeg"))
        for job in waiting:
            self.shown[str(job.id)] = (job.status_sequence, job.progress_step)
        return [self._card(job) for job in waiting]

    @staticmethod
    def _card(job: Job) -> str:
        return render_to_string("generation/partials/job_card.html", {"job": job})

    @database_sync_to_async
    def _render_list(self) -> str:
        jobs = recent_jobs(self.user)
        self.shown.update({str(j.id): (j.status_sequence, j.progress_step) for j in jobs})
        return render_to_string("generation/partials/job_list.html", {"jobs": jobs})
