"""Read-side helpers shared by pages and the websocket: job lists with queue positions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from generation import keyset
from generation.models import ACTIVE_STATUSES, Job, JobStatus, Video, Visibility
from generation.queue import held
from generation.queue_models import QueueHold, QueueMember

# Finished jobs the studio shows at a time ("Show more" brings the next ones); waiting and
# running jobs are all shown, above them.
HISTORY_PAGE = 12


class JobPage(list[Job]):
    """One page of the studio's job list: on the first, every active job and then the newest
    finished ones. `more` names the last finished job shown, from which the next page starts
    (None: no more); `featured_id` is the newest finished video, the one shown with a player
    (the rest are posters that play on hover)."""

    more: str | None = None
    featured_id: uuid.UUID | None = None
    # On the first page: whether the person paused their queue, and the maintenance hold.
    paused: bool = False
    hold: QueueHold | None = None

    @property
    def running(self) -> list[Job]:
        return [job for job in self if job.status == JobStatus.RUNNING]

    @property
    def waiting(self) -> list[Job]:
        """The person's waiting jobs in their order (the one of theirs that goes next first)."""
        return [job for job in self if job.status == JobStatus.QUEUED]

    @property
    def finished(self) -> list[Job]:
        return [job for job in self if not job.is_active]


def with_queue_positions(jobs: Iterable[Job]) -> list[Job]:
    """Set `queue_position` on each job (1 runs next; None when not waiting), with one query
    for the whole list, only when some job is waiting."""
    jobs = list(jobs)
    positions = (Job.objects.queue_positions()
                 if any(job.status == JobStatus.QUEUED for job in jobs) else {})
    for job in jobs:
        job.queue_position = positions.get(job.id)
    return jobs


def recent_jobs(user: Any, after: str | None = None) -> JobPage:
    """The user's job list, with their videos in the same query: the first page (every
    waiting and running job, then the newest finished ones), or the finished jobs after the
    one named `after` (a job id from `JobPage.more`)."""
    owned = Job.objects.owned_by(user).select_related("video").defer("preview_jpeg")
    finished = owned.exclude(status__in=ACTIVE_STATUSES).order_by("-created_at", "-id")
    if after is None:
        # Which jobs, in one snapshot: read apart, a job starting (or finishing) between two
        # reads would be in neither list (or in both), and a page would lose its card.
        # Their ids as a UNION of two index scans: written as `status IN … OR pk IN (newest)`,
        # PostgreSQL filtered every one of the person's jobs (10,000 past jobs: every read).
        # The newest finished ids sit inside `pk IN (…)`: SQLite (the embedded default)
        # allows no ORDER BY or LIMIT on a part of a UNION itself, so the parts have no LIMIT
        # and no ordering at all: `.order_by()` drops the model's default one.
        newest = (Job.objects.filter(pk__in=finished.values("pk")[:HISTORY_PAGE + 1])
                  .order_by().values("pk"))
        active_ids = (Job.objects.owned_by(user).filter(status__in=ACTIVE_STATUSES)
                      .order_by().values("pk"))
        # The UNION is a statement of its own: Django refuses a sliced part of one inside a
        # subquery. Its ids are one snapshot; the rows read next are each as they are then
        # (a job that started meanwhile shows running), and none is lost or doubled.
        ids = list(active_ids.union(newest, all=True).values_list("pk", flat=True))
        jobs = list(owned.filter(pk__in=ids))
        rows = sorted((job for job in jobs if not job.is_active),
                      key=lambda job: (job.created_at, job.id), reverse=True)
        active = [*sorted((job for job in jobs if job.status == JobStatus.RUNNING),
                          key=lambda job: job.created_at, reverse=True),
                  *sorted((job for job in jobs if job.status == JobStatus.QUEUED),
                          key=_personal_order)]
    else:
        # Keyset paging: a job finishing meanwhile does not shift the pages.
        last = _owned_job_time(user, after)
        if last is None:
            return JobPage()
        active = []
        rows = list(finished.filter(keyset.after("created_at", last[1], last[0]))
                    [:HISTORY_PAGE + 1])
    page = JobPage(with_queue_positions([*active, *rows[:HISTORY_PAGE]]))
    if len(rows) > HISTORY_PAGE:
        page.more = str(rows[HISTORY_PAGE - 1].id)
    if after is None:
        page.paused = QueueMember.objects.filter(user=user, paused=True).exists()
        page.hold = held()
        page.featured_id = next((job.id for job in rows if job.status == JobStatus.SUCCEEDED),
                                None)
    return page


def _personal_order(job: Job) -> tuple[bool, int, datetime, uuid.UUID]:
    """PERSONAL_ORDER, in Python: the person's own rank first (unranked last), then age."""
    return job.queue_rank is None, job.queue_rank or 0, job.created_at, job.id


def _owned_job_time(user: Any, job_id: str) -> tuple[uuid.UUID, datetime] | None:
    try:
        return Job.objects.owned_by(user).filter(pk=job_id).values_list(
            "id", "created_at").first()
    except (ValueError, ValidationError):
        return None


def remixable_video(user: Any, video_id: str | uuid.UUID) -> Video | None:
    """A video whose recipe `user` may start from: one of theirs, or a public one."""
    try:
        return Video.objects.filter(
            Q(owner=user) | Q(visibility=Visibility.PUBLIC), pk=video_id).first()
    except (ValueError, ValidationError):
        return None


RECENT_PROMPTS = 8


def recent_prompts(user: Any, count: int = RECENT_PROMPTS) -> list[str]:
    """The user's last distinct prompts, newest first (for the form's prompt history)."""
    prompts: list[str] = []
    latest = (Job.objects.owned_by(user).order_by("-created_at")
              .values_list("params__prompt", flat=True)[:count * 5])
    for prompt in latest:
        if isinstance(prompt, str) and prompt.strip() and prompt not in prompts:
            prompts.append(prompt)
    return prompts[:count]
