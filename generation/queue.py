"""A queue people control: each person orders, pauses and resumes their own waiting jobs; an
admin weights people in the fair share and holds the whole queue for maintenance.

The fair order itself is one query (`Job.objects.fair_queue`, which reads the order, the
pauses and the weights written here); a hold is read by every claim (`claimable`). What
changes here reaches the workers as hints and the open pages as events, once committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from django.db import transaction
from django.db.models import Exists
from django.utils import timezone

from generation import events
from generation.models import Job, JobQuerySet, JobStatus
from generation.queue_models import MAX_WEIGHT, PERSONAL_ORDER, QueueHold, QueueMember

Move = Literal["top", "up", "down", "bottom"]
MOVES: tuple[Move, ...] = ("top", "up", "down", "bottom")


class NotYourJob(Exception):
    """A job named that is not one of the person's: answered as if it did not exist."""


def claimable(queue: JobQuerySet) -> JobQuerySet:
    """Queued jobs a worker may start now: none while the whole queue is held (a condition of
    the claim's own query, so a hold and a claim never race past each other)."""
    return queue.filter(~Exists(QueueHold.objects.all()))


def held() -> QueueHold | None:
    return QueueHold.objects.select_related("paused_by").first()


def member(user: Any) -> QueueMember:
    """The person's queue settings (the defaults, unsaved, when they have none)."""
    return QueueMember.objects.filter(user=user).first() or QueueMember(user=user)


def waiting(user: Any) -> JobQuerySet:
    """The person's waiting jobs in their order (the first goes next of theirs)."""
    return Job.objects.owned_by(user).filter(status=JobStatus.QUEUED).order_by(*PERSONAL_ORDER)


def reorder(user: Any, job_ids: Sequence[uuid.UUID | str]) -> list[uuid.UUID]:
    """Put the person's waiting jobs in the order given; those not named (submitted since the
    page showed the list) follow in their order. A job that has started meanwhile is skipped;
    one that is not theirs raises NotYourJob. Returns the new order."""
    try:
        wanted = list(dict.fromkeys(uuid.UUID(str(job_id)) for job_id in job_ids))
    except ValueError:
        raise NotYourJob from None
    with transaction.atomic():
        if Job.objects.owned_by(user).filter(pk__in=wanted).count() != len(wanted):
            raise NotYourJob
        # Locked in their current order: two tabs reordering at once apply one after the other.
        current = list(waiting(user).select_for_update().values_list("id", flat=True))
        still_waiting, chosen = set(current), set(wanted)
        order = ([job_id for job_id in wanted if job_id in still_waiting]
                 + [job_id for job_id in current if job_id not in chosen])
        _write_order(order)
        transaction.on_commit(lambda: events.jobs_changed(user.pk))
    return order


def move(user: Any, job_id: uuid.UUID | str, where: Move) -> list[uuid.UUID]:
    """Move one of the person's waiting jobs to the top or bottom of their order, or one place
    up or down. Raises NotYourJob for a job that is not theirs or no longer waiting."""
    if where not in MOVES:
        raise ValueError(f"A job moves {', '.join(MOVES)}, not {where!r}.")
    with transaction.atomic():
        order = list(waiting(user).select_for_update().values_list("id", flat=True))
        try:
            at = order.index(uuid.UUID(str(job_id)))
        except ValueError:
            raise NotYourJob from None
        target = {"top": 0, "bottom": len(order) - 1, "up": max(0, at - 1),
                  "down": min(len(order) - 1, at + 1)}[where]
        order.insert(target, order.pop(at))
        _write_order(order)
        transaction.on_commit(lambda: events.jobs_changed(user.pk))
    return order


def _write_order(order: list[uuid.UUID]) -> None:
    jobs = [Job(pk=job_id, queue_rank=rank) for rank, job_id in enumerate(order, start=1)]
    Job.objects.bulk_update(jobs, ["queue_rank"])


def pause(user: Any) -> bool:
    """The person's waiting jobs stay waiting (running ones finish); False if already so."""
    return _set_paused(user, True)


def resume(user: Any) -> bool:
    return _set_paused(user, False)


def _set_paused(user: Any, paused: bool) -> bool:
    with transaction.atomic():
        row, _ = QueueMember.objects.select_for_update().get_or_create(user=user)
        if row.paused == paused:
            return False
        row.paused, row.paused_at = paused, timezone.now() if paused else None
        row.save(update_fields=["paused", "paused_at"])
        transaction.on_commit(lambda: _queue_changed(owner_id=user.pk, resumed=not paused))
    return True


def set_weight(user: Any, weight: int) -> None:
    if not 1 <= weight <= MAX_WEIGHT:
        raise ValueError(f"A weight is a whole number from 1 to {MAX_WEIGHT}.")
    QueueMember.objects.update_or_create(user=user, defaults={"weight": weight})
    transaction.on_commit(events.queue_moved)


def hold(by: Any = None, reason: str = "") -> bool:
    """Pause the whole queue for maintenance; False if it already was."""
    _, created = QueueHold.objects.get_or_create(pk=1, defaults={
        "paused_by": by if getattr(by, "pk", None) else None, "reason": reason[:200]})
    if created:
        transaction.on_commit(lambda: _queue_changed(everyone=True))
    return created


def release() -> bool:
    """Let workers start jobs again; False if the queue was not held."""
    deleted, _ = QueueHold.objects.all().delete()
    if deleted:
        transaction.on_commit(lambda: _queue_changed(everyone=True, resumed=True))
    return bool(deleted)


def _queue_changed(*, owner_id: int | None = None, everyone: bool = False,
                   resumed: bool = False) -> None:
    """Pages show the new state; after a resume, workers hear of the jobs whose hints they
    dropped while those could not start."""
    if everyone:
        events.everyones_jobs_changed()
    elif owner_id is not None:
        events.jobs_changed(owner_id)
    events.queue_moved()
    if resumed:
        from generation import fleet, lifecycle  # lifecycle's claim reads this module

        lifecycle.top_up_hints(fleet.job_queues())
