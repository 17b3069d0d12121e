"""Read-side helpers shared by pages and the websocket: job lists with queue positions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from generation.models import Job, JobStatus, Video, Visibility

RECENT_JOBS = 24


def with_queue_positions(jobs: Iterable[Job]) -> list[Job]:
    """Set `queue_position` on each job (1 runs next; None when not waiting), with one query
    for the whole list, only when some job is waiting."""
    jobs = list(jobs)
    positions = (Job.objects.queue_positions()
                 if any(job.status == JobStatus.QUEUED for job in jobs) else {})
    for job in jobs:
        job.queue_position = positions.get(job.id)
    return jobs


def recent_jobs(user: Any) -> list[Job]:
    """The user's latest jobs for the job list, with their videos in the same query."""
    return with_queue_positions(
        Job.objects.owned_by(user).select_related("video").defer("preview_jpeg")
        .order_by("-created_at")[:RECENT_JOBS])


def remixable_video(user: Any, video_id: str | uuid.UUID) -> Video | None:
    """A video whose recipe `user` may start from: one of theirs, or a public one."""
    try:
        return Video.objects.filter(
            Q(owner=user) | Q(visibility=Visibility.PUBLIC), pk=video_id).first()
    except (ValueError, ValidationError):
        return None
