"""The admin's Models page: staff see every preset and ask a worker to install, verify or
remove weights; the worker's side reports what happened (the Hub is unreachable here)."""

from __future__ import annotations

import os
import re

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from generation.models import JobStatus, ModelOperation
from tests.conftest import csrf_post, make_user
from tests.processes import start_worker
from worker.catalogue.helpers import save_helper
from worker.models_volume import carry_out

PAGE = "admin:generation_modeloperation_changelist"
RUN = "admin:generation_modeloperation_run"
SAM = "sam2.1-hiera-tiny"



@pytest.fixture
def admin_client(db) -> Client:
    staff = make_user("root", is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


def test_staff_see_every_preset_and_its_state(admin_client, models):
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert "wan2.1-t2v-1.3b" in page and "ltx-video" in page
    assert "not installed" in page and "built in" in page


def test_the_page_is_for_staff_only(owner_client, models):
    response = owner_client.get(reverse(PAGE))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_install_asks_a_worker_on_the_models_queue(admin_client, models,
                                                  django_capture_on_commit_callbacks):
    queue = redis.Redis.from_url(settings.REDIS_URL)
    before = queue.llen(settings.CELERY_MODELS_QUEUE)
    admin_client.get(reverse(PAGE))
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(admin_client, reverse(RUN),
                             {"preset": "wan2.1-t2v-1.3b", "action": "install"})
    assert response.status_code == 302
    operation = ModelOperation.objects.get()
    assert (operation.preset, operation.action, operation.status) == (
        "wan2.1-t2v-1.3b", "install", JobStatus.QUEUED)
    assert queue.llen(settings.CELERY_MODELS_QUEUE) == before + 1


def test_unknown_models_and_actions_are_refused(admin_client, models):
    admin_client.get(reverse(PAGE))
    csrf_post(admin_client, reverse(RUN), {"preset": "nope", "action": "install"})
    csrf_post(admin_client, reverse(RUN), {"preset": "ltx-video", "action": "format-disk"})
    assert not ModelOperation.objects.exists()


def test_a_post_without_csrf_token_is_refused(admin_client, models):
    response = admin_client.post(reverse(RUN), {"preset": "ltx-video", "action": "remove"})
    assert response.status_code == 403


def test_an_install_on_a_machine_that_cannot_reach_the_hub_fails_clearly(db, models):
    operation = ModelOperation.objects.create(preset="ltx-video", action="install")
    assert carry_out(operation.pk, "test-worker") == JobStatus.FAILED
    operation.refresh_from_db()
    assert "ltx-video" in operation.message or "Hub" in operation.message
    assert operation.finished_at is not None
    assert carry_out(operation.pk, "test-worker") is None  # finished: never run twice


def test_verify_reports_missing_weights(db, models):
    operation = ModelOperation.objects.create(preset="ltx-video", action="verify")
    assert carry_out(operation.pk, "w") == JobStatus.FAILED
    operation.refresh_from_db()
    assert "not installed" in operation.message


def test_remove_deletes_the_folder(db, models):
    folder = models / "ltx-video" / "transformer"
    folder.mkdir(parents=True)
    (folder / "weights.safetensors").write_bytes(b"\0" * 1000)
    operation = ModelOperation.objects.create(preset="ltx-video", action="remove")
    assert carry_out(operation.pk, "w") == JobStatus.SUCCEEDED
    assert not (models / "ltx-video").exists()
    operation.refresh_from_db()
    assert "Removed ltx-video" in operation.message


def test_staff_see_each_worker_its_gpu_warm_models_and_job(admin_client, owner):
    from generation import fleet
    from tests.jobs import make_job

    fleet.report("gpu0@host:12", queues=["gpu-80g"], gpu_name="NVIDIA H200",
                 gpu_total_gb=139.8, loaded=["wan2.1-t2v-1.3b"])
    job = make_job(owner, status=JobStatus.RUNNING)
    fleet.working_on("gpu0@host:12", job.id)
    page = admin_client.get(reverse("admin:generation_workerstate_changelist")).content.decode()
    assert "gpu0@host:12" in page and "NVIDIA H200" in page and "wan2.1-t2v-1.3b" in page
    assert str(job.id) in page


def _row(page: str, model_id: str) -> str:
    """The Models table's row of one model."""
    start = page.index(f"<code>{model_id}</code>")
    return page[page.rindex("<tr>", 0, start):page.index("</tr>", start)]


def _buttons(row: str) -> list[str]:
    return re.findall(r'name="action" value="(\w+)"', row)


def test_each_model_offers_only_the_actions_that_apply(admin_client, models):
    save_helper(SAM, models / SAM)
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert _buttons(_row(page, "ltx-video")) == ["install"]
    assert _buttons(_row(page, SAM)) == ["verify", "remove"]
    tiny = _row(page, "tiny")
    assert _buttons(tiny) == [] and "built in" in tiny


def test_an_action_that_does_not_apply_is_refused(admin_client, models):
    admin_client.get(reverse(PAGE))
    csrf_post(admin_client, reverse(RUN), {"preset": "ltx-video", "action": "remove"})
    csrf_post(admin_client, reverse(RUN), {"preset": "tiny", "action": "verify"})
    assert not ModelOperation.objects.exists()


def test_a_cpu_worker_reads_as_cpu_in_a_readable_table(admin_client, owner):
    from generation import fleet

    fleet.report("cpu0@host:7", queues=["default", "housekeeping"], gpu_name="",
                 gpu_total_gb=0.0, loaded=["tiny"])
    fleet.report("gpu0@host:8", queues=["gpu-80g"], gpu_name="NVIDIA H100 80GB HBM3",
                 gpu_total_gb=79.2, loaded=[], gpu_count=2,
                 gpu_memory=[{"allocated_gb": 1.25, "peak_gb": 3.5}] * 2)
    page = admin_client.get(reverse("admin:generation_workerstate_changelist")).content.decode()
    cpu = page[page.index("cpu0@host:7"):page.index("</tr>", page.index("cpu0@host:7"))]
    assert "<td class=\"field-device\">CPU</td>" in cpu
    assert "default, housekeeping" in cpu and ">tiny<" in cpu
    assert "GPU" not in cpu and "0.0" not in cpu
    assert "2 × NVIDIA H100 80GB HBM3, 79 GB each" in page
    assert "1.2 / 3.5 GiB · 1.2 / 3.5 GiB" in page
    assert '["' not in page  # no raw JSON lists
    assert "s ago (" in cpu


@pytest.mark.worker
def test_workers_that_do_not_report_are_listed_from_a_ping(admin_client, tmp_path):
    url = reverse("admin:generation_workerstate_changelist")
    worker = start_worker(tmp_path / "worker.log", queues=settings.CELERY_MODELS_QUEUE)
    try:
        page = admin_client.get(url).content.decode()
    finally:
        worker.stop()
    node = f"test-{os.getpid()}@"
    assert node in page
    listed = page[page.index("Other workers"):]
    row = listed[listed.index(node):listed.index("</tr>", listed.index(node))]
    assert "<td>models</td>" in row
