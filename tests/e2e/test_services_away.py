"""Redis stopped for 15 s and PostgreSQL cut off while jobs run, with the real web server, the
real worker and a person's studio open in a browser: every job is done exactly once (one
attempt, one video), nothing is lost with the broker's messages, and the open page shows
every job's final state without a reload (its websocket reconnects by itself)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from accounts.api_keys import create_key
from generation.models import Job, JobStatus, Video
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.faults import OwnRedis, Relay, relay_for_the_test_database, relayed_database_url
from tests.processes import free_port, slowed_down, start_web, start_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker]


@dataclass
class Stack:
    url: str
    api: httpx.Client
    redis: OwnRedis
    relay: Relay


@pytest.fixture
def stack(transactional_db, tmp_path, page_problems) -> Iterator[Stack]:
    relay, redis = relay_for_the_test_database(), OwnRedis(tmp_path)
    redis.start()
    env = {"DATABASE_URL": relayed_database_url(relay), "REDIS_URL": redis.url,
           # A worker that goes quiet is noticed in half a minute, not two; a loaded machine's
           # slowed worker still beats well within it.
           "FRAMECRAFT_HEARTBEAT_SECONDS": "0.5", "FRAMECRAFT_STALE_AFTER_SECONDS": "30",
           "FRAMECRAFT_PROGRESS_INTERVAL": "0.1"}
    port = free_port()
    web = start_web(tmp_path / "web.log", port, **env)
    worker = start_worker(tmp_path / "worker.log", **env)
    key = create_key(make_user("ada", PASSWORD), "faults").secret
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as api:
        yield Stack(f"http://127.0.0.1:{port}", api, redis, relay)
    page_problems.close_pages()
    worker.stop()
    web.stop()
    relay.cut()
    redis.stop()


def _submit(stack: Stack, count: int) -> list[str]:
    ids = []
    for n in range(count):
        answer = stack.api.post("/api/v1/jobs", json={
            "preset": "tiny", "prompt": f"a tide, take {n}", "steps": 50, "num_frames": 33})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


def _running(job_id: str) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.status == JobStatus.RUNNING and job.progress_step >= 1 else None


def _all_done_once(ids: list[str]) -> None:
    wait_for(lambda: set(Job.objects.filter(pk__in=ids).values_list("status", flat=True))
             == {JobStatus.SUCCEEDED}, 180, "every job to succeed")
    for job in Job.objects.filter(pk__in=ids):
        # A second attempt keeps the first one's end as its error: say why it was retried.
        assert job.attempts == 1, (f"job {job.pk} ran {job.attempts} times; the first attempt "
                                   f"ended with {job.error_code}: {job.error_message}")
        assert Video.objects.filter(job=job).count() == 1


def _page_shows_all_succeeded(page, count: int) -> None:
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.job-card')]"
        ".filter(c => c.dataset.status === 'succeeded').length === n", arg=count,
        timeout=60_000)


def _allow_the_outage(page_problems) -> None:
    """The page's websocket fails, and its reconnects too, while the service is away (htmx's
    ws extension logs each as an error event)."""
    for fragment in ("WebSocket", "[object Event]", "status of 503"):
        page_problems.allow(fragment)


def test_redis_away_for_15_s_loses_no_job_and_runs_none_twice(stack, page, page_problems):
    _allow_the_outage(page_problems)
    sign_in(page, stack.url)
    ids = _submit(stack, 3)
    page.reload()
    first = wait_for(lambda: _running(ids[0]), 120, "the first job to be stepping", 0.02)
    with slowed_down(int(first.worker.rsplit(":", 1)[1])):
        stack.redis.stop()  # the queue's messages go with it: this Redis keeps nothing
        time.sleep(15)
        stack.redis.start()
    _all_done_once(ids)
    _page_shows_all_succeeded(page, 3)


def test_postgresql_cut_off_mid_job_loses_no_job_and_runs_none_twice(stack, page,
                                                                      page_problems):
    _allow_the_outage(page_problems)
    sign_in(page, stack.url)
    ids = _submit(stack, 2)
    page.reload()
    first = wait_for(lambda: _running(ids[0]), 120, "the first job to be stepping", 0.02)
    with slowed_down(int(first.worker.rsplit(":", 1)[1])):
        stack.relay.cut()  # every connection dropped, as when the server restarts
        time.sleep(5)
        stack.relay.mend()
    _all_done_once(ids)
    _page_shows_all_succeeded(page, 2)
