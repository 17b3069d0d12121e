"""A real two-rank group worker on the CPU (gloo): `python -m worker.group`, its rank 0 a
Celery worker on the real broker and database. A job is claimed once for the group and runs
on both ranks; a rank that dies mid-job has the job re-queued and the group restarted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from generation.models import JobStatus, Video, WorkerState
from tests.jobs import submit_tiny
from tests.processes import Service, service_env, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _status(job):
    job.refresh_from_db()
    return job.status


def _rank_pids(group: Service) -> list[list[int]]:
    return [[int(pid) for pid in found.split(", ")]
            for found in re.findall(r"started: 2 ranks, pids \[([\d, ]+)\]", group.log())]


@pytest.fixture
def group(tmp_path):
    service = Service(
        [sys.executable, "-m", "worker.group", "--gpus", "2",
         "--queues", settings.CELERY_TASK_DEFAULT_QUEUE, "--hostname", f"group-{os.getpid()}@%h"],
        service_env(FRAMECRAFT_DEVICE="cpu", FRAMECRAFT_HEARTBEAT_SECONDS="0.5",
                    FRAMECRAFT_PROGRESS_INTERVAL="0.1"),
        tmp_path / "group.log")
    wait_for(lambda: "ready." in service.log() or service.process.poll() is not None, 120,
             "the group's rank 0 to start")
    assert service.process.poll() is None, service.log()
    yield service
    service.stop(timeout=30)
    print(service.log()[-20000:])  # shown when the test fails


def test_a_group_runs_a_job_once_and_re_runs_it_when_a_rank_dies(owner, group):
    first = submit_tiny(owner, num_frames=17)  # 320 tokens: planned on 2 GPUs
    assert first.gpus == 2
    wait_for(lambda: _status(first) == JobStatus.SUCCEEDED, 180, "the first job")
    leader, follower = _rank_pids(group)[0]
    assert first.worker.endswith(f":{leader}") and first.attempts == 1
    state = wait_for(lambda: WorkerState.objects.filter(name=first.worker, gpu_count=2).first(),
                     10, "the group's report")
    assert state.loaded == ["tiny"]
    log = group.log()
    assert "rank 1 of 2 joined the group" in log and log.count("loaded preset tiny") == 2

    second = submit_tiny(owner, num_frames=17, steps=40, seed=3)

    def stepping():
        second.refresh_from_db()
        return second.status == JobStatus.RUNNING and second.progress_step >= 2

    wait_for(stepping, 120, "the second job to step", interval=0.05)
    os.kill(follower, signal.SIGKILL)  # rank 1 dies mid-step
    wait_for(lambda: len(_rank_pids(group)) == 2, 60, "the group to restart")
    wait_for(lambda: _status(second) == JobStatus.SUCCEEDED, 240, "the re-run")
    assert second.attempts == 2
    assert second.worker.endswith(f":{_rank_pids(group)[1][0]}")
    assert Video.objects.filter(job=second).count() == 1
    # Re-queued once: by rank 0, which gloo tells at once that its peer is gone, or by the
    # supervisor when rank 0 hangs (NCCL); the attempt check lets only one of them do it. The
    # supervisor sees whichever rank ends first: the killed one, or rank 0 giving up on it.
    assert re.search(r"rank [01] exited \(codes \[(None|\d+), -9\]\); [01] job\(s\) "
                     "re-queued; restarting", group.log())


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--gpus", "1"], {}, "a process group needs at least 2 GPUs"),
    ([], {"FRAMECRAFT_GPUS_PER_WORKER": "four"},
     "FRAMECRAFT_GPUS_PER_WORKER='four' is malformed: expected a whole number"),
    ([], {"FRAMECRAFT_GPUS_PER_WORKER": "2", "FRAMECRAFT_DEVICE": "cuda:1"},
     "FRAMECRAFT_DEVICE must be unset (one GPU per rank) or cpu"),
])
def test_a_misconfigured_group_refuses_to_start_and_says_why(args, env, message):
    from tests.processes import ROOT

    done = subprocess.run([sys.executable, "-m", "worker.group", *args], cwd=ROOT,
                          env=service_env(**env), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout


def _process(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def _killed_follower() -> subprocess.Popen[bytes]:
    follower = _process("import time; time.sleep(60)")
    follower.kill()
    follower.wait()
    return follower


def test_when_a_follower_dies_rank_0_may_finish_re_queueing_before_the_group_stops(tmp_path):
    from worker.group import Supervisor

    # Rank 0 told of its dead peer: a second to re-queue its job, then it exits on its own.
    done = tmp_path / "requeued"
    leader = _process(f"import time, sys; time.sleep(1); open({str(done)!r}, 'w').close(); "
                      "sys.exit(70)")
    supervisor = Supervisor(2, "generation", "group@%h", "INFO", [])
    supervisor.ranks = [leader, _killed_follower()]
    assert supervisor.settle(exited=1) == [70, -signal.SIGKILL]
    assert done.exists()


def test_a_rank_0_hung_in_a_collective_is_stopped_after_the_grace(monkeypatch):
    from worker import group

    monkeypatch.setattr(group, "LEADER_GRACE_S", 0.5)
    leader = _process("import time; time.sleep(60)")
    supervisor = group.Supervisor(2, "generation", "group@%h", "INFO", [])
    supervisor.ranks = [leader, _killed_follower()]
    assert supervisor.settle(exited=1) == [None, -signal.SIGKILL]
    assert leader.returncode == -signal.SIGKILL
