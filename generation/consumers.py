"""The websocket that keeps a user's job cards live.

Messages from the channel layer are hints that name a job; the consumer reads the job from
the database and sends the same template partial the page renders (htmx's ws extension swaps
it in by id), so a lost, late or duplicated hint never shows a wrong state. A step only
replaces the card's progress, and a move in the queue only its waiting line (its buttons, and
the focus on them, stay); a change of state, or one this socket missed, replaces the card.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from generation import fleet
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
        self.shown: dict[str, tuple[int, bool, int]] = {}
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
        """What changed of the job since this socket last showed it: nothing; only its progress
        (the card stays, and the focus on its buttons); else the whole card. A job this socket
        never showed brings the whole list, which has it."""
        job = Job.objects.select_related("video").filter(pk=job_id, owner=self.user).first()
        if job is None:
            return None
        shown, now = self.shown.get(str(job.id)), _shown(job)
        if shown == now:
            return None
        if shown is None:
            return self._list()
        self.shown[str(job.id)] = now
        if shown[:2] == now[:2] and job.status == JobStatus.RUNNING:
            return render_to_string("generation/partials/job_progress.html", {"job": job})
        # A card that finished in front of the person shows its video with a player.
        return self._card(with_queue_positions([job])[0], featured=True)

    @database_sync_to_async
    def _render_waiting_cards(self) -> list[str]:
        """Each waiting job's place in the queue again (it moved): the line alone where the
        card shows the job as it is, else the whole card; the list if a card is missing."""
        waiting = with_queue_positions(
            Job.objects.filter(owner=self.user, status=JobStatus.QUEUED).defer("preview_jpeg"))
        if any(str(job.id) not in self.shown for job in waiting):
            # A job this page has no card for (made in another tab, by the API or the CLI):
            # the whole list, which has it, rather than a card with nowhere to go.
            return [self._list()]
        messages: list[str] = []
        estimator = fleet.Estimator()  # one read of the fleet for every card
        for job in waiting:
            shown, now = self.shown.get(str(job.id)), _shown(job)
            self.shown[str(job.id)] = now
            part = "job_waiting" if shown == now else "job_card"
            messages.append(render_to_string(f"generation/partials/{part}.html", {
                "job": job, "estimator": estimator, "featured_id": None}))
        return messages

    @staticmethod
    def _card(job: Job, featured: bool = False) -> str:
        return render_to_string("generation/partials/job_card.html",
                                {"job": job, "featured_id": job.id if featured else None})

    @database_sync_to_async
    def _render_list(self) -> str:
        return self._list()

    def _list(self) -> str:
        jobs = recent_jobs(self.user)
        self.shown.update({str(j.id): _shown(j) for j in jobs})
        return render_to_string("generation/partials/job_list.html", {"jobs": jobs})


def _shown(job: Job) -> tuple[int, bool, int]:
    """What a card shows of a job: its state (the sequence, and whether a cancel is asked,
    which changes no state) and its step."""
    return job.status_sequence, job.cancel_requested, job.progress_step
