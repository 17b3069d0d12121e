"""Claims by GPU count: a group claims a job once for all its ranks, racing groups never
share one, and jobs go to workers with the GPU count the planner chose."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from generation import fleet, lifecycle
from generation.models import Job, JobStatus
from tests.jobs import make_job

GROUP = lifecycle.Capacity(gpus=2)
ONE = lifecycle.Capacity(gpus=1)


def _report(name, gpus, busy_with=None):
    fleet.report(name, queues=["generation"], gpu_name="H100", gpu_total_gb=80, loaded=[],
                 gpu_count=gpus)
    if busy_with is not None:
        fleet.working_on(name, busy_with.id)


@pytest.mark.django_db(transaction=True)
def test_racing_groups_claim_each_job_once(owner):
    jobs = {make_job(owner, gpus=2).pk for _ in range(3)}
    claimed: dict[str, list] = {}
    start = threading.Barrier(6)

    def group(name):
        try:
            start.wait()
            mine = []
            while (job := lifecycle.claim(name, GROUP)) is not None:
                mine.append(job.pk)
            claimed[name] = mine
        finally:
            connection.close()

    threads = [threading.Thread(target=group, args=(f"group{i}@host:{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [pk for mine in claimed.values() for pk in mine]
    assert sorted(every) == sorted(jobs)  # each job once, none left, none twice
    for job in Job.objects.filter(pk__in=jobs):
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        assert job.pk in claimed[job.worker]  # the row names the group that got it


@pytest.mark.django_db
def test_one_claim_serves_the_whole_group(owner):
    job = make_job(owner, gpus=2)
    claimed = lifecycle.claim("group@host:1", GROUP)
    assert claimed.pk == job.pk
    job.refresh_from_db()
    assert (job.attempts, job.worker, job.status_sequence) == (1, "group@host:1", 1)
    assert lifecycle.claim("group@host:2", GROUP) is None


@pytest.mark.django_db
def test_a_group_leaves_one_gpu_jobs_to_an_idle_one_gpu_worker(owner):
    small, big = make_job(owner, gpus=1), make_job(owner, gpus=2)
    _report("one@host:5", 1)
    assert lifecycle.claim("group@host:1", GROUP).pk == big.pk
    assert lifecycle.claim("group@host:1", GROUP) is None  # `small` waits for the idle one
    assert lifecycle.claim("one@host:5", ONE).pk == small.pk


@pytest.mark.django_db
def test_a_group_takes_one_gpu_jobs_while_no_one_gpu_worker_is_idle(owner):
    small = make_job(owner, gpus=1)
    _report("one@host:5", 1, busy_with=make_job(owner, status=JobStatus.RUNNING))
    assert lifecycle.claim("group@host:1", GROUP).pk == small.pk


@pytest.mark.django_db
def test_a_one_gpu_worker_leaves_group_jobs_while_a_group_is_alive(owner):
    big = make_job(owner, gpus=2)
    _report("group@host:1", 2, busy_with=make_job(owner, status=JobStatus.RUNNING))
    assert lifecycle.claim("one@host:5", ONE) is None
    fleet.gone("group@host:1")  # no group any more: run it slowly rather than never
    assert lifecycle.claim("one@host:5", ONE).pk == big.pk


@pytest.mark.django_db
def test_a_drained_groups_capacity_does_not_hold_jobs_back(owner):
    small = make_job(owner, gpus=1)
    _report("one@host:5", 1)
    fleet.drain("one@host")  # the idle one-GPU worker takes nothing: the group may
    assert lifecycle.claim("group@host:1", GROUP).pk == small.pk
