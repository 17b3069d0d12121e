"""The lifecycle alone changes a job's state; each change is a compare-and-set."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from generation import fleet, lifecycle
from generation.models import Job, JobStatus
from tests.jobs import make_job
from webapp.celery import app as celery_app

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Job fields whose changes are transitions: only generation/lifecycle.py writes them.
TRANSITION_FIELDS = {"status", "status_sequence", "attempts", "cancel_requested", "heartbeat_at",
                     "progress_step", "not_before"}
# Rows with a status of their own that are not jobs (weight installs, previews, mask tracking).
NOT_JOBS = ("ModelOperation", "ControlPreview", "MaskTracking")


def _writes_outside_the_lifecycle() -> list[str]:
    found = []
    for package in ("generation", "worker", "accounts", "webapp"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "lifecycle.py" or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("update", "create", "_transition")
                        and TRANSITION_FIELDS & {kw.arg for kw in node.keywords}
                        and not any(other in ast.unparse(node.func)
                                    for other in NOT_JOBS)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_nothing_but_the_lifecycle_writes_a_jobs_state():
    assert _writes_outside_the_lifecycle() == []


def test_the_terminal_state_rule_holds_under_python_O():
    # An `assert` would vanish under -O; the rule must not.
    code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'webapp.settings'); django.setup(); import uuid\n"
            "from generation import lifecycle\n"
            "try:\n lifecycle._transition(uuid.uuid4(), ('succeeded',), 'queued')\n"
            "except ValueError as e: print('refused:', e)\n")
    result = subprocess.run([sys.executable, "-O", "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert "refused: terminal states are final" in result.stdout, result.stderr


def test_a_running_job_cancelled_before_its_worker_died_is_cancelled_not_requeued(owner):
    job = make_job(owner, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(attempts=1,
                                         heartbeat_at=timezone.now() - timedelta(hours=1))
    job.refresh_from_db()
    assert lifecycle.cancel(job)  # the owner asks while the job runs
    assert lifecycle.reap_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert lifecycle.claim("another-worker") is None


def _held(queue: str) -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(
            queue=queue, passive=False, durable=True, auto_delete=False).message_count


@pytest.fixture
def empty_queue(settings):
    queue = f"test-top-up-{timezone.now().timestamp()}"
    settings.FRAMECRAFT_JOB_QUEUES = [queue]
    yield queue
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)


def test_topping_up_hints_twice_sends_one_per_waiting_job(owner, empty_queue):
    for _ in range(3):
        make_job(owner)
    assert lifecycle.top_up_hints([empty_queue]) == 3
    assert lifecycle.top_up_hints([empty_queue]) == 0  # a second worker start adds nothing
    assert _held(empty_queue) == 3


def test_a_models_worker_starting_sends_no_job_hints(owner, empty_queue):
    from worker import tasks

    make_job(owner)
    tasks._node["queues"] = ["models"]
    tasks._on_worker_ready()
    assert _held(empty_queue) == 0
    tasks._node["queues"] = [empty_queue]
    tasks._on_worker_ready()
    assert _held(empty_queue) == 1


def test_a_worker_claims_only_presets_it_can_run(owner):
    big = make_job(owner, preset="wan2.1-t2v-14b", width=832, height=480, num_frames=81)
    tiny = make_job(owner)
    claimed = lifecycle.claim("w", lifecycle.Capacity(presets=frozenset({"tiny"})))
    assert claimed.pk == tiny.pk
    assert lifecycle.claim("w", lifecycle.Capacity(presets=frozenset({"tiny"}))) is None
    big.refresh_from_db()
    assert big.status == JobStatus.QUEUED


def test_a_small_gpu_leaves_a_slow_job_to_an_idle_bigger_one(owner):
    job = make_job(owner)
    small = lifecycle.Capacity(presets=frozenset({"tiny"}), reluctant=frozenset({"tiny"}),
                               gpu_total_gb=24)
    fleet.report("big-gpu", queues=["generation"], gpu_name="H200", gpu_total_gb=141,
                 loaded=[])
    assert lifecycle.claim("small-gpu", small) is None
    fleet.working_on("big-gpu", make_job(owner, status=JobStatus.RUNNING).id)  # now busy
    assert lifecycle.claim("small-gpu", small).pk == job.pk


def test_a_worker_prefers_the_next_owners_job_whose_model_it_holds(owner, stranger):
    first = make_job(owner, preset="wan2.1-t2v-1.3b")
    warm = make_job(owner)
    other = make_job(stranger)
    Job.objects.filter(pk=warm.pk).update(created_at=first.created_at + timedelta(seconds=1))
    capacity = lifecycle.Capacity(loaded=frozenset({"tiny"}))
    assert lifecycle.claim("w", capacity).pk == warm.pk  # the same owner's turn, warm model
    assert lifecycle.claim("w", capacity).pk == other.pk  # fairness between owners holds
