"""A real Celery worker process on the real broker, running the tiny model on the CPU."""

import os
import signal

import pytest
from django.conf import settings

from generation import lifecycle
from generation.models import Job, JobStatus, Video, WorkerState
from tests.channel_events import GroupListener
from tests.conftest import make_user
from tests.jobs import TINY_PARAMS, submit_tiny
from tests.processes import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "FRAMECRAFT_HEARTBEAT_SECONDS": "0.5",
    "FRAMECRAFT_STALE_AFTER_SECONDS": "3",
    "FRAMECRAFT_PROGRESS_INTERVAL": "0.1",
}


@pytest.fixture
def worker(tmp_path):
    service = start_worker(tmp_path / "worker.log", **WORKER_ENV)
    yield service
    service.stop()


def _status(job):
    job.refresh_from_db()
    return job.status


def test_a_submitted_job_runs_on_the_worker_and_the_model_stays_loaded(owner, worker):
    first = submit_tiny(owner)
    wait_for(lambda: _status(first) == JobStatus.SUCCEEDED, 120, "the first job")
    second = submit_tiny(owner, seed=5)
    wait_for(lambda: _status(second) == JobStatus.SUCCEEDED, 60, "the second job")
    assert Video.objects.filter(owner=owner).count() == 2
    log = worker.log()
    assert log.count("loading preset tiny") == 1, log
    assert first.worker == second.worker  # the same warm child process
    # The worker tells the fleet table what it holds; claims read it.
    state = wait_for(lambda: WorkerState.objects.filter(name=first.worker, loaded=["tiny"],
                                                       job=None).first(), 10, "a report")
    assert state.queues == [settings.CELERY_TASK_DEFAULT_QUEUE]


def test_a_killed_worker_leads_to_a_rerun_that_finishes_exactly_once(owner, worker, tmp_path):
    listener = GroupListener.for_user(owner)
    # Long enough to be killed mid-run: many steps on the tiny model.
    job = submit_tiny(owner, steps=50, num_frames=33,
                                          width=160, height=96)

    def running_with_progress():
        job.refresh_from_db()
        return job.status == JobStatus.RUNNING and job.progress_step >= 1

    wait_for(running_with_progress, 120, "the job to start stepping", interval=0.02)
    pid = int(job.worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)  # the child running the job dies mid-step

    wait_for(lambda: _status(job) == JobStatus.SUCCEEDED, 180, "the re-run to finish")
    assert job.attempts == 2
    assert Video.objects.filter(job=job).count() == 1
    assert Video.objects.filter(owner=owner).count() == 1
    events = listener.drain(quiet_for=1.0)
    listener.close()
    successes = [e for e in events if e.get("status") == "succeeded"]
    assert len(successes) == 1
    assert "reaped job" in worker.log()


def test_a_worker_started_after_the_broker_lost_its_messages_still_runs_queued_jobs(
        owner, tmp_path):
    job = Job.objects.create(owner=owner, preset="tiny", params=dict(TINY_PARAMS))  # no message
    worker = start_worker(tmp_path / "late-worker.log", **WORKER_ENV)
    try:
        wait_for(lambda: _status(job) == JobStatus.SUCCEEDED, 120, "the stranded job")
    finally:
        worker.stop()


def _started_order(jobs):
    return [job.pk for job in Job.objects.filter(pk__in=[j.pk for j in jobs])
            .order_by("started_at")]


def test_jobs_start_round_robin_between_people_on_one_worker(owner, stranger, worker):
    third = make_user("third")
    # A's first job runs long enough for the others to submit while it runs.
    a1 = submit_tiny(owner, steps=12, num_frames=33, width=160, height=96)
    a2, a3 = submit_tiny(owner, seed=2), submit_tiny(owner, seed=3)
    wait_for(lambda: _status(a1) == JobStatus.RUNNING, 120, "A's first job to start")
    b1, b2 = submit_tiny(stranger, seed=4), submit_tiny(stranger, seed=5)
    c1 = submit_tiny(third, seed=6)
    everyone = [a1, a2, a3, b1, b2, c1]
    wait_for(lambda: all(_status(job) == JobStatus.SUCCEEDED for job in everyone), 180,
             "every job to finish")
    assert a1.status == JobStatus.SUCCEEDED
    # One worker, so nobody has a job running at claim time: the order comes from whose
    # job started longest ago, not from the queue's first come, first served.
    assert _started_order(everyone) == [j.pk for j in (a1, b1, c1, a2, b2, a3)]


def test_a_job_cancelled_while_its_worker_was_dead_stays_cancelled(owner, worker):
    job = submit_tiny(owner, steps=50, num_frames=33, width=160, height=96)

    def running_with_progress():
        job.refresh_from_db()
        return job.status == JobStatus.RUNNING and job.progress_step >= 1

    wait_for(running_with_progress, 120, "the job to start stepping", interval=0.02)
    os.kill(int(job.worker.rsplit(":", 1)[1]), signal.SIGKILL)  # dies mid-step
    assert lifecycle.cancel(job)  # the owner cancels; nobody reads the flag any more
    wait_for(lambda: _status(job) != JobStatus.RUNNING, 60, "the reaper to act")
    assert job.status == JobStatus.CANCELLED
    # The next job runs on the same worker; the cancelled one never comes back.
    later = submit_tiny(owner, seed=9)
    wait_for(lambda: _status(later) == JobStatus.SUCCEEDED, 120, "the next job")
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 1)
    assert not Video.objects.filter(job=job).exists()
