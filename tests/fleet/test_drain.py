"""Draining a worker: it finishes its job and takes no more, from the admin or the command."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from generation import fleet, lifecycle
from generation.models import JobStatus, WorkerDrain, WorkerState
from tests.conftest import make_user
from tests.jobs import make_job, submit_tiny
from tests.processes import start_worker, wait_for

LIST = "admin:generation_workerstate_changelist"


def _status(job):
    job.refresh_from_db()
    return job.status


@pytest.mark.django_db
def test_the_command_drains_by_node_and_a_restarted_process_stays_drained(owner, capsys):
    fleet.report("gpu0@host:12", queues=["generation"], gpu_name="", gpu_total_gb=0, loaded=[])
    call_command("drain_worker", "gpu0@host:12")
    assert "gpu0@host drained: it takes no more jobs, now (it is idle)" in capsys.readouterr().out
    make_job(owner)
    assert lifecycle.claim("gpu0@host:12") is None
    assert lifecycle.claim("gpu0@host:99") is None  # the same node after a restart
    call_command("drain_worker", "gpu0@host", "--undrain")
    assert lifecycle.claim("gpu0@host:99") is not None


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_worker_and_creates_nothing():
    fleet.report("gpu0@host:12", queues=["generation"], gpu_name="", gpu_total_gb=0, loaded=[])
    with pytest.raises(CommandError, match=r"No worker named 'gpu9@host' has reported; "
                                           r"workers: gpu0@host\."):
        call_command("drain_worker", "gpu9@host")
    with pytest.raises(CommandError, match="gpu0@host is not drained"):
        call_command("drain_worker", "gpu0@host", "--undrain")
    assert not WorkerDrain.objects.exists()


@pytest.mark.django_db
def test_staff_drain_and_undrain_workers_from_the_admin(owner):
    staff = make_user("root", is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    fleet.report("gpu0@host:12", queues=["gpu-80g"], gpu_name="NVIDIA H100", gpu_total_gb=79,
                 loaded=[], gpu_count=4, gpu_memory=[{"gpu": 0, "allocated_gb": 30.5,
                                                      "peak_gb": 61.0}])
    job = make_job(owner, status=JobStatus.RUNNING, preset="wan2.1-t2v-14b", width=1280,
                   height=720)
    fleet.working_on("gpu0@host:12", job.id)
    page = client.get(reverse(LIST))
    text = page.content.decode()
    assert "wan2.1-t2v-14b 1280×720" in text and "30.5 / 61.0 GiB" in text
    token = page.cookies["csrftoken"].value
    assert client.post(reverse(LIST), {"action": "drain", "_selected_action": "gpu0@host:12"},
                       ).status_code == 403  # no CSRF token: refused
    assert not fleet.is_draining("gpu0@host:12")
    client.post(reverse(LIST), {"action": "drain", "_selected_action": "gpu0@host:12",
                                "csrfmiddlewaretoken": token})
    assert fleet.is_draining("gpu0@host:12")
    client.post(reverse(LIST), {"action": "undrain", "_selected_action": "gpu0@host:12",
                                "csrfmiddlewaretoken": token})
    assert not fleet.is_draining("gpu0@host:12")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_drained_real_worker_finishes_its_job_and_takes_no_more(owner, tmp_path):
    worker = start_worker(tmp_path / "worker.log", FRAMECRAFT_HEARTBEAT_SECONDS="0.5",
                          FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    try:
        first = submit_tiny(owner, steps=30, num_frames=33, width=160, height=96)

        def stepping():
            first.refresh_from_db()
            return first.status == JobStatus.RUNNING and first.progress_step >= 1

        wait_for(stepping, 120, "the first job to step", interval=0.05)
        wait_for(lambda: WorkerState.objects.filter(name=first.worker).exists(), 10,
                 "the worker's report")
        call_command("drain_worker", first.worker)
        second = submit_tiny(owner, seed=77)
        wait_for(lambda: _status(first) == JobStatus.SUCCEEDED, 120, "the first job")
        time.sleep(4)  # the second job's hint has long reached the worker
        assert _status(second) == JobStatus.QUEUED
        assert "no job this worker can run is waiting" in worker.log()
        call_command("drain_worker", first.worker, "--undrain")  # and tops the queues up
        wait_for(lambda: _status(second) == JobStatus.SUCCEEDED, 120, "the second job")
        assert second.worker == first.worker
    finally:
        worker.stop()
