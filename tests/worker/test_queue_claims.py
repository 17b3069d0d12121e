"""The claim query with a queue people control: each person's order and pause, admins'
weights and the maintenance hold, claim by claim (the real worker's start order is in
test_queue_real_worker)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation import lifecycle, queue
from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.jobs import make_job, queue_position

pytestmark = pytest.mark.django_db


def _queue(*owners) -> list[Job]:
    """One queued job per owner given, submitted a second apart in that order."""
    start = timezone.now() - timedelta(minutes=10)
    jobs = []
    for n, owner in enumerate(owners):
        job = make_job(owner)
        Job.objects.filter(pk=job.pk).update(created_at=start + timedelta(seconds=n))
        jobs.append(Job.objects.get(pk=job.pk))
    return jobs


def _claims(count: int) -> list[Job | None]:
    """Claim one at a time and finish each at once, as one worker does."""
    started = []
    for _ in range(count):
        job = lifecycle.claim("w")
        started.append(job)
        if job is not None:
            Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    return started


def test_a_persons_order_decides_only_which_of_their_jobs_goes_next(owner, stranger):
    a1, a2, a3, b1, b2 = _queue(owner, owner, owner, stranger, stranger)
    queue.reorder(owner, [a3.id, a1.id, a2.id])
    assert list(Job.objects.fair_queue()) == [a3, b1, a1, b2, a2]
    assert _claims(6) == [a3, b1, a1, b2, a2, None]


def test_move_to_top_up_and_down(owner):
    a1, a2, a3 = _queue(owner, owner, owner)
    assert queue.move(owner, a3.id, "top") == [a3.id, a1.id, a2.id]
    assert queue.move(owner, a3.id, "down") == [a1.id, a3.id, a2.id]
    assert queue.move(owner, a2.id, "up") == [a1.id, a2.id, a3.id]
    assert queue.move(owner, a1.id, "up") == [a1.id, a2.id, a3.id]  # already first
    assert queue.move(owner, a1.id, "bottom") == [a2.id, a3.id, a1.id]
    assert list(queue.waiting(owner)) == [a2, a3, a1]


def test_jobs_submitted_after_a_reorder_follow_the_arranged_ones(owner):
    a1, a2 = _queue(owner, owner)
    queue.reorder(owner, [a2.id, a1.id])
    a3 = make_job(owner)
    assert list(queue.waiting(owner)) == [a2, a1, a3]
    # A list from before a3 existed leaves it at the end.
    queue.reorder(owner, [a1.id, a2.id])
    assert list(queue.waiting(owner)) == [a1, a2, a3]


def test_nobody_reorders_or_moves_someone_elses_jobs(owner, stranger):
    mine, = _queue(owner)
    theirs, = _queue(stranger)
    with pytest.raises(queue.NotYourJob):
        queue.reorder(stranger, [mine.id, theirs.id])
    with pytest.raises(queue.NotYourJob):
        queue.move(stranger, mine.id, "top")
    with pytest.raises(queue.NotYourJob):
        queue.reorder(owner, ["not-a-job"])
    assert Job.objects.get(pk=mine.pk).queue_rank is None


def test_a_paused_persons_jobs_wait_while_others_start_and_run_after_resume(owner, stranger):
    a1, a2, b1, b2 = _queue(owner, owner, stranger, stranger)
    assert queue.pause(owner)
    assert not queue.pause(owner)  # already paused
    assert queue_position(a1) is None
    assert queue_position(b1) == 1
    assert _claims(3) == [b1, b2, None]
    assert Job.objects.get(pk=a1.pk).status == JobStatus.QUEUED
    assert queue.resume(owner)
    assert _claims(3) == [a1, a2, None]


def test_a_hold_starts_nothing_and_accepts_new_jobs(owner, stranger):
    a1, b1 = _queue(owner, stranger)
    assert queue.hold(reason="driver update")
    later = make_job(stranger)
    assert lifecycle.claim("w") is None
    assert queue_position(later) == 3  # waiting, in its place
    assert queue.release()
    assert not queue.release()
    assert _claims(4) == [a1, b1, later, None]


def test_a_weight_of_two_gives_two_turns_per_round(owner, stranger):
    queue.set_weight(owner, 2)
    jobs = _queue(*[owner] * 6, *[stranger] * 3)
    heavy, light = jobs[:6], jobs[6:]
    started = _claims(9)
    who = ["A" if job.owner_id == owner.pk else "B" for job in started]
    assert "".join(who) == "AABAABAAB"
    assert [job for job in started if job.owner_id == owner.pk] == heavy
    assert [job for job in started if job.owner_id == stranger.pk] == light


def test_weights_share_the_queue_among_three_people(owner, stranger):
    third = make_user("third")
    queue.set_weight(third, 3)
    _queue(*[owner] * 4, *[stranger] * 4, *[third] * 12)
    who = {owner.pk: "A", stranger.pk: "B", third.pk: "C"}
    order = "".join(who[job.owner_id] for job in _claims(15))
    # Every round of five starts: one of A's, one of B's, three of C's.
    for start in range(0, 15, 5):
        assert sorted(order[start:start + 5]) == list("ABCCC"), order


def test_an_arranged_order_beats_the_workers_warm_model(owner):
    cold, warm = make_job(owner, preset="tiny"), make_job(owner, preset="demo-other")
    capacity = lifecycle.Capacity(loaded=frozenset({"demo-other"}))
    Job.objects.filter(pk=cold.pk).update(created_at=timezone.now() - timedelta(seconds=5))
    assert lifecycle.claim("w", capacity).pk == warm.pk  # nobody arranged: warm goes first
    Job.objects.filter(pk=warm.pk).update(status=JobStatus.QUEUED, started_at=None)
    queue.reorder(owner, [cold.id, warm.id])
    assert lifecycle.claim("w", capacity).pk == cold.pk


def test_the_claim_reads_order_pause_weight_and_hold_in_one_query(owner, stranger):
    _queue(owner, stranger, owner)
    queue.pause(stranger)
    queue.set_weight(owner, 2)
    queue.reorder(owner, list(queue.waiting(owner).values_list("id", flat=True))[::-1])
    fair = Job.objects.fair_queue()
    with CaptureQueriesContext(connection) as queries:
        ids = list(queue.claimable(fair).values_list("id", flat=True))
    assert len(queries) == 1 and len(ids) == 2


def test_a_move_or_weight_out_of_range_is_refused(owner):
    a1, = _queue(owner)
    with pytest.raises(ValueError):
        queue.move(owner, a1.id, "sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        queue.set_weight(owner, 0)
    assert queue.member(owner).weight == 1


@pytest.mark.django_db(transaction=True)
def test_resuming_tells_the_workers_and_every_page(owner, monkeypatch):
    from generation import events

    heard: list[str] = []
    monkeypatch.setattr(events, "jobs_changed", lambda user_id: heard.append("list"))
    monkeypatch.setattr(events, "everyones_jobs_changed", lambda: heard.append("everyone"))
    monkeypatch.setattr(events, "queue_moved", lambda: heard.append("moved"))
    monkeypatch.setattr(lifecycle, "top_up_hints", lambda queues: heard.append("hints") or 0)
    _, a2 = _queue(owner, owner)
    queue.move(owner, a2.id, "top")
    assert heard == ["list"]
    queue.pause(owner)
    assert heard[1:] == ["list", "moved"]
    queue.resume(owner)
    assert heard[3:] == ["list", "moved", "hints"]
    queue.hold()
    queue.release()
    assert heard[6:] == ["everyone", "moved", "everyone", "moved", "hints"]
