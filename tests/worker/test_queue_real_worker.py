"""A queue people control, shown by the order a real Celery worker starts jobs in (the tiny
model on the CPU, the real broker), as fair share is in test_real_worker."""

import pytest

from generation import queue
from generation.models import Job, JobStatus
from tests.jobs import submit_tiny
from tests.processes import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A top-up of lost hints every second (the scheduler runs with the worker): a pause or hold
# must keep those from starting anything too.
WORKER_ENV = {"FRAMECRAFT_HEARTBEAT_SECONDS": "0.5", "FRAMECRAFT_STALE_AFTER_SECONDS": "4"}
LONG = {"steps": 12, "num_frames": 33, "width": 160, "height": 96}
DROPPED = "no job this worker can run is waiting"


@pytest.fixture
def worker(tmp_path):
    service = start_worker(tmp_path / "worker.log", **WORKER_ENV)
    yield service
    service.stop()


def _status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def _all_done(jobs: list[Job], what: str, timeout: float = 240) -> None:
    wait_for(lambda: all(_status(job) == JobStatus.SUCCEEDED for job in jobs), timeout, what)


def _started_order(jobs: list[Job]) -> list:
    return list(Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("started_at")
                .values_list("pk", flat=True))


def _ids(*jobs: Job) -> list:
    return [job.pk for job in jobs]


def test_reordering_changes_which_of_a_persons_jobs_starts_next_not_the_interleaving(
        owner, stranger, worker):
    a1 = submit_tiny(owner, **LONG)
    a2, a3 = submit_tiny(owner, seed=2), submit_tiny(owner, seed=3)
    wait_for(lambda: _status(a1) == JobStatus.RUNNING, 120, "A's first job to start")
    b1, b2 = submit_tiny(stranger, seed=4), submit_tiny(stranger, seed=5)
    queue.move(owner, a3.id, "top")
    everyone = [a1, a2, a3, b1, b2]
    _all_done(everyone, "every job to finish")
    # The same turns as without the move (A, B, A, B, A): only A's own two swapped places.
    assert _started_order(everyone) == _ids(a1, b1, a3, b2, a2)


def test_a_paused_persons_jobs_wait_while_others_run_and_start_on_resume(
        owner, stranger, worker):
    running = submit_tiny(owner, **LONG)
    wait_for(lambda: _status(running) == JobStatus.RUNNING, 120, "A's job to start")
    assert queue.pause(owner)
    a1, a2 = submit_tiny(owner, seed=2), submit_tiny(owner, seed=3)
    b1, b2 = submit_tiny(stranger, seed=4), submit_tiny(stranger, seed=5)
    _all_done([running, b1, b2], "A's running job and B's jobs to finish")
    # Several hints for A's jobs came and went (and top-ups): none started them.
    wait_for(lambda: worker.log().count(DROPPED) >= 2, 30, "the worker to drop A's hints")
    assert (_status(a1), _status(a2)) == (JobStatus.QUEUED, JobStatus.QUEUED)
    assert queue.resume(owner)
    _all_done([a1, a2], "A's jobs to run after the resume")
    assert _started_order([running, a1, a2, b1, b2]) == _ids(running, b1, b2, a1, a2)
    b2.refresh_from_db()
    assert Job.objects.get(pk=a1.pk).started_at > b2.finished_at


def test_a_maintenance_hold_starts_nothing_until_it_is_released(owner, stranger, worker):
    assert queue.hold(reason="driver update")
    a1, a2 = submit_tiny(owner, seed=1), submit_tiny(owner, seed=2)  # accepted, waiting
    b1 = submit_tiny(stranger, seed=3)
    wait_for(lambda: worker.log().count(DROPPED) >= 3, 60, "the worker to drop every hint")
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 3
    assert not Job.objects.filter(started_at__isnull=False).exists()
    assert queue.release()  # the hints dropped meanwhile are sent again
    _all_done([a1, a2, b1], "every job to run after the release")
    assert _started_order([a1, a2, b1]) == _ids(a1, b1, a2)


def test_a_weight_of_two_starts_two_of_that_persons_jobs_per_round(owner, stranger, worker):
    queue.set_weight(owner, 2)
    queue.hold()  # everything submitted before the first start, so the rounds are clean
    heavy = [submit_tiny(owner, seed=n) for n in range(4)]
    light = [submit_tiny(stranger, seed=10 + n) for n in range(2)]
    queue.release()
    _all_done([*heavy, *light], "every job to finish")
    owners = dict(Job.objects.filter(pk__in=_ids(*heavy, *light)).values_list("pk", "owner"))
    turns = "".join("A" if owners[pk] == owner.pk else "B"
                    for pk in _started_order([*heavy, *light]))
    assert turns == "AABAAB"
    assert [pk for pk in _started_order(heavy)] == _ids(*heavy)
