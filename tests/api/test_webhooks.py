"""Webhooks: delivered by a real worker to a real local receiver, signed, retried with
back-off; private addresses refused unless allowed; progress throttled."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from api.models import WebhookEndpoint
from api.webhooks import sign
from generation import lifecycle
from tests.api.conftest import assert_problem
from tests.api.receiver import webhook_receiver
from tests.conftest import csrf_post
from tests.jobs import submit_tiny
from tests.processes import start_worker, wait_for

WORKER_ENV = {"FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE": "1",
              "FRAMECRAFT_WEBHOOK_BACKOFF_SECONDS": "0.3",
              "FRAMECRAFT_WEBHOOK_ATTEMPTS": "4"}


@pytest.fixture
def webhook_worker(tmp_path):
    service = start_worker(tmp_path / "webhooks.log", queues="webhooks", **WORKER_ENV)
    yield service
    service.stop()


@pytest.fixture
def allow_private(settings):
    settings.FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE = True


def _verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_started_webhook_is_signed_and_retried_with_back_off(api, owner, webhook_worker,
                                                             allow_private):
    with webhook_receiver(answers=[500, 503]) as receiver:
        created = api.post("webhooks", {"url": receiver.url, "events": ["started",
                                                                        "succeeded"]})
        assert created.status_code == 201, created.content
        secret = created.json()["secret"]
        job = submit_tiny(owner)
        assert lifecycle.claim("test-claimer") is not None  # the job starts: "started"

        wait_for(lambda: len(receiver.received) >= 3, 30, "three delivery attempts")
        first, second, third = receiver.received[:3]
        assert first.body == second.body == third.body  # the same delivery, re-signed
        payload = json.loads(third.body)
        assert payload["event"] == "job.started" and payload["data"]["id"] == str(job.id)
        assert payload["data"]["status"] == "running"
        for attempt in (first, second, third):
            assert attempt.headers["Framecraft-Event"] == "job.started"
            assert _verify(secret, attempt.headers["Framecraft-Signature"], attempt.body)
            assert not _verify("another secret", attempt.headers["Framecraft-Signature"],
                               attempt.body)
        # Exponential back-off: 0.3 s, then 0.6 s.
        assert second.at - first.at >= 0.25
        assert third.at - second.at >= 0.5
        endpoint = WebhookEndpoint.objects.get(owner=owner)
        wait_for(lambda: WebhookEndpoint.objects.get(pk=endpoint.pk).last_status == 200, 10,
                 "the last delivery to be recorded")
        assert len(receiver.received) == 3  # no delivery for events it did not choose


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_progress_is_throttled_per_job(api, owner, webhook_worker, allow_private, settings):
    settings.FRAMECRAFT_WEBHOOK_PROGRESS_SECONDS = 30
    with webhook_receiver() as receiver:
        api.post("webhooks", {"url": receiver.url, "events": ["progress"]})
        submit_tiny(owner)
        job = lifecycle.claim("test-claimer")
        assert job is not None
        for step in range(1, 6):
            lifecycle.progress(job.id, job.attempts, owner_id=owner.pk,
                               status_sequence=job.status_sequence, step=step, total=5,
                               elapsed_s=step * 0.1, preview_jpeg=None)
        wait_for(lambda: receiver.received, 20, "a progress delivery")
        import time

        time.sleep(1.5)
        assert len(receiver.received) == 1
        payload = json.loads(receiver.received[0].body)
        assert payload["event"] == "job.progress" and payload["data"]["progress"]["total"] == 5


@pytest.mark.django_db
def test_webhook_urls_on_private_addresses_are_refused_by_default(api):
    for url in ("http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/x",
                "http://[::1]/x", "http://169.254.169.254/latest/meta-data"):
        body = assert_problem(api.post("webhooks", {"url": url, "events": ["started"]}), 422,
                              "invalid_webhook")
        assert "url" in body["fields"], url
    body = assert_problem(api.post("webhooks", {"url": "ftp://example.com/x",
                                                "events": ["started"]}), 422, "invalid_webhook")
    assert "http" in body["message"]
    body = assert_problem(api.post("webhooks", {"url": "https://example.com:99999/x",
                                                "events": ["started"]}), 422, "invalid_webhook")
    assert "port" in body["message"]
    assert_problem(api.post("webhooks", {"url": "https://example.com/x", "events": ["eaten"]}),
                   422, "invalid")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_webhooks_on_the_profile_page_need_csrf_and_show_the_secret_once(owner_client, owner,
                                                                         allow_private):
    data = {"url": "http://127.0.0.1:9/hook", "events": ["started", "failed"]}
    assert owner_client.post("/profile/webhooks/", data).status_code == 403
    response = csrf_post(owner_client, "/profile/webhooks/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(owner=owner)
    assert endpoint.events == ["started", "failed"]
    assert endpoint.secret in response.content.decode()
    page = owner_client.get("/profile/").content.decode()
    assert "127.0.0.1:9/hook" in page and endpoint.secret not in page
    csrf_post(owner_client, f"/profile/webhooks/{endpoint.pk}/delete/", HTTP_HX_REQUEST="true")
    assert not WebhookEndpoint.objects.exists()


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"a":1}'
    mac = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, body) == f"t=1700000000,v1={mac}"
