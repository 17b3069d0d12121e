"""/metrics: off by default, behind a bearer token or an address allow-list, and parseable
by Prometheus' own parser with the figures the database holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from generation import fleet
from generation.models import Job, JobStatus
from tests.jobs import make_job

pytestmark = pytest.mark.django_db


def _samples(text):
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_are_not_there_unless_configured(client):
    assert client.get("/metrics").status_code == 404


def test_a_wrong_or_missing_token_is_refused(client, settings):
    settings.FRAMECRAFT_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 403 and response["WWW-Authenticate"] == "Bearer"


def test_an_allowed_address_needs_no_token_and_others_are_refused(settings):
    settings.FRAMECRAFT_METRICS_ALLOW = ["10.1.0.0/16"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403


def test_metrics_show_queues_durations_gpu_memory_and_worker_health(client, settings, owner):
    settings.FRAMECRAFT_METRICS_TOKEN = "s3cret-token"
    make_job(owner, gpus=4, preset="wan2.1-t2v-14b")
    make_job(owner, gpus=4, preset="wan2.1-t2v-14b")
    make_job(owner)
    running = make_job(owner, status=JobStatus.RUNNING, gpus=4)
    now = timezone.now()
    for seconds in (20, 50, 4000):
        job = make_job(owner, status=JobStatus.SUCCEEDED)
        Job.objects.filter(pk=job.pk).update(started_at=now - timedelta(seconds=seconds),
                                             finished_at=now)
    fleet.report("group@a:7", queues=["gpu-80g"], gpu_name="H100", gpu_total_gb=79.1,
                 loaded=[], gpu_count=4,
                 gpu_memory=[{"gpu": 0, "allocated_gb": 30.5, "peak_gb": 61.0},
                             {"gpu": 1, "allocated_gb": 29.0, "peak_gb": 58.0}])
    fleet.working_on("group@a:7", running.id)
    fleet.report("one@b:9", queues=["gpu-80g"], gpu_name="H100", gpu_total_gb=79.1, loaded=[])
    fleet.drain("one@b")

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = _samples(response.content.decode())

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("framecraft_queue_depth", gpus="4", preset="wan2.1-t2v-14b") == 2
    assert value("framecraft_queue_depth", gpus="1", preset="tiny") == 1
    assert value("framecraft_jobs_running", gpus="4") == 1
    histogram = {"gpus": "1", "preset": "tiny"}
    assert value("framecraft_job_duration_seconds_bucket", le="30.0", **histogram) == 1
    assert value("framecraft_job_duration_seconds_bucket", le="60.0", **histogram) == 2
    assert value("framecraft_job_duration_seconds_bucket", le="+Inf", **histogram) == 3
    assert value("framecraft_job_duration_seconds_count", **histogram) == 3
    assert value("framecraft_job_duration_seconds_sum", **histogram) == pytest.approx(4070, 1)
    assert value("framecraft_worker_gpus", worker="group@a:7") == 4
    assert value("framecraft_worker_gpu_memory_bytes", worker="group@a:7", gpu="1",
                 kind="peak") == 58.0 * 2**30
    assert value("framecraft_worker_busy", worker="group@a:7") == 1
    assert value("framecraft_worker_busy", worker="one@b:9") == 0
    assert value("framecraft_worker_draining", worker="one@b:9") == 1
    assert value("framecraft_worker_draining", worker="group@a:7") == 0
    assert 0 <= value("framecraft_worker_last_report_age_seconds", worker="one@b:9") < 60
