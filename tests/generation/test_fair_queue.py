"""Workers take waiting jobs round-robin between owners, not first come first served."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import lifecycle
from generation.models import Job, JobStatus
from tests.jobs import make_job, queue_position
from worker import execution

pytestmark = pytest.mark.django_db


def _queue(*owners_in_submission_order) -> list[Job]:
    """One queued job per owner given, submitted a second apart in that order."""
    start = timezone.now() - timedelta(minutes=10)
    jobs = []
    for n, owner in enumerate(owners_in_submission_order):
        job = make_job(owner)
        Job.objects.filter(pk=job.pk).update(created_at=start + timedelta(seconds=n))
        job.refresh_from_db()
        jobs.append(job)
    return jobs


def _order() -> list[Job]:
    return list(Job.objects.fair_queue())


def test_a_batch_does_not_hold_up_someone_who_submits_after_it(owner, stranger):
    a1, a2, a3, b1 = _queue(owner, owner, owner, stranger)
    assert _order() == [a1, b1, a2, a3]
    assert [queue_position(job) for job in (a1, b1, a2, a3)] == [1, 2, 3, 4]


def test_an_owner_with_a_running_job_waits_behind_others_first_jobs(owner, stranger):
    running, waiting, other = _queue(owner, owner, stranger)
    Job.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING)
    assert _order() == [other, waiting]
    assert queue_position(waiting) == 2
    assert queue_position(running) is None


def test_a_message_runs_the_job_whose_turn_it_is(owner, stranger):
    a1, a2, b1 = _queue(owner, owner, stranger)
    # The message about a2 arrives first (brokers do not promise order): a1 is still first.
    assert lifecycle.claim("w1").pk == a1.pk
    # a1 is now running, so the stranger's job goes before the owner's second one.
    assert lifecycle.claim("w2").pk == b1.pk
    assert lifecycle.claim("w3").pk == a2.pk
    assert lifecycle.claim("w4") is None  # a message with nothing left is dropped


def test_a_retried_job_waits_out_its_back_off(owner, stranger):
    backing_off, other = _queue(owner, stranger)
    Job.objects.filter(pk=backing_off.pk).update(
        not_before=timezone.now() + timedelta(seconds=30))
    assert lifecycle.claim("w").pk == other.pk
    assert lifecycle.claim("w") is None
    Job.objects.filter(pk=backing_off.pk).update(
        not_before=timezone.now() - timedelta(seconds=1))
    claimed = lifecycle.claim("w")
    assert claimed.pk == backing_off.pk
    assert claimed.not_before is None


@pytest.mark.django_db(transaction=True)  # execute() manages its own connection
def test_a_crash_re_queues_the_job_with_a_back_off(owner, monkeypatch):
    def crash(request, on_step):
        raise RuntimeError("the GPU driver fell over")

    sent = []
    monkeypatch.setattr(execution, "run_generation", crash)
    monkeypatch.setattr(lifecycle, "send_hint",
                        lambda job_id, preset_id, countdown=None: sent.append(countdown))
    job = make_job(owner)
    before = timezone.now()
    assert execution.execute(job.id, "w") == JobStatus.QUEUED
    job.refresh_from_db()
    assert job.not_before >= before + timedelta(seconds=lifecycle.RETRY_BACKOFF_S)
    assert sent == [lifecycle.RETRY_BACKOFF_S]
    assert execution.execute(job.id, "w") is None  # too early: nothing to run yet


def test_the_job_list_numbers_every_waiting_card_with_one_query(owner, stranger, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client.force_login(owner)
    _queue(stranger, owner, owner)

    def studio_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("studio")).content.decode()
        return len(queries), page

    few, page = studio_queries()
    assert "number 2 in the queue" in page and "number 3 in the queue" in page
    _queue(owner, owner, stranger)
    many, page = studio_queries()
    assert many == few
    assert "number 5 in the queue" in page
