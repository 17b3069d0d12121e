"""The web image's Celery processes, which have no torch: the scheduler and the worker that
delivers webhooks and runs the housekeeping. They start, and re-queue a dead worker's job with
no GPU worker there to help."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Job, JobStatus
from tests.jobs import submit_tiny
from tests.processes import Service, service_env, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WEB_IMAGE_CELERY = [sys.executable, "-m", "tests.web_image", "celery", "-A", "webapp"]


@pytest.fixture
def web_image_celery(tmp_path):
    env = service_env(FRAMECRAFT_STALE_AFTER_SECONDS="3")
    worker = Service([*WEB_IMAGE_CELERY, "worker", "--queues", "webhooks,housekeeping",
                      "--concurrency", "2", "--hostname", "webhooks-test@%h", "--loglevel",
                      "INFO", "--without-mingle", "--without-gossip"],
                     env, tmp_path / "worker.log")
    scheduler = Service([*WEB_IMAGE_CELERY, "beat", "--schedule", str(tmp_path / "beat"),
                         "--loglevel", "INFO"], env, tmp_path / "beat.log")
    yield worker, scheduler
    for service in (scheduler, worker):
        service.stop()
        print(service.log()[-5000:])  # shown when the test fails


def test_without_torch_the_scheduler_and_webhooks_worker_re_queue_a_dead_workers_job(
        owner, web_image_celery):
    worker, scheduler = web_image_celery
    job = submit_tiny(owner)
    # Claimed by a GPU worker that then died: it stopped sending heartbeats an hour ago.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker="gpu0@gone:1",
                                         attempts=1, started_at=an_hour_ago,
                                         heartbeat_at=an_hour_ago)

    def re_queued() -> bool:
        job.refresh_from_db()
        return job.status == JobStatus.QUEUED

    wait_for(re_queued, 60, "the reaper to re-queue the job")
    assert (job.error_code, job.worker) == ("worker_lost", "")
    assert "gpu0@gone:1" in job.error_message
    assert worker.process.poll() is None and scheduler.process.poll() is None
    log = worker.log()
    # The tasks it knows: the housekeeping and webhook ones, not the GPU worker's.
    assert ". framecraft.reap_stale_jobs" in log and ". framecraft.deliver_webhook" in log
    assert ". framecraft.run_job" not in log
