"""The API's queue routes: the caller orders, moves, pauses and resumes their own queue; other
people's jobs answer 404; the maintenance hold is reported."""

import pytest

from accounts.api_keys import create_key
from generation import queue
from generation.models import JobStatus
from tests.api.conftest import ApiClient, assert_problem
from tests.jobs import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner) -> ApiClient:
    return ApiClient(create_key(owner, "tests").secret)


@pytest.fixture
def stranger_api(stranger) -> ApiClient:
    return ApiClient(create_key(stranger, "tests").secret)


def test_the_caller_orders_and_moves_their_waiting_jobs(api, owner):
    j1, j2, j3 = make_job(owner), make_job(owner), make_job(owner)
    make_job(owner, status=JobStatus.RUNNING)  # not waiting: not in the order
    body = api.get("queue").json()
    assert body["waiting"] == [str(j.id) for j in (j1, j2, j3)]
    assert (body["paused"], body["weight"], body["maintenance"]) == (False, 1, False)
    body = api.put("queue/order", {"job_ids": [str(j3.id), str(j1.id)]}).json()
    assert body["waiting"] == [str(j.id) for j in (j3, j1, j2)]
    body = api.post("queue/move", {"job_id": str(j2.id), "to": "top"}).json()
    assert body["waiting"] == [str(j.id) for j in (j2, j3, j1)]
    assert_problem(api.post("queue/move", {"job_id": str(j2.id), "to": "sideways"}), 422,
                   "invalid")


def test_pause_resume_and_the_maintenance_hold(api, owner, monkeypatch):
    from generation import lifecycle

    monkeypatch.setattr(lifecycle, "top_up_hints", lambda queues: 0)
    assert api.post("queue/pause").json()["paused"] is True
    assert queue.member(owner).paused
    assert api.post("queue/resume").json()["paused"] is False
    queue.hold(reason="new GPUs")
    body = api.get("queue").json()
    assert (body["maintenance"], body["maintenance_reason"]) == (True, "new GPUs")


def test_another_persons_jobs_answer_404(stranger_api, owner, stranger):
    mine = make_job(owner)
    theirs = make_job(stranger)
    assert_problem(stranger_api.put("queue/order", {"job_ids": [str(mine.id)]}), 404,
                   "not_found")
    assert_problem(stranger_api.post("queue/move", {"job_id": str(mine.id), "to": "top"}),
                   404, "not_found")
    assert stranger_api.get("queue").json()["waiting"] == [str(theirs.id)]
    assert queue.waiting(owner).get().queue_rank is None


def test_the_queue_needs_an_api_key():
    assert_problem(ApiClient(None).get("queue"), 401, "unauthenticated")
