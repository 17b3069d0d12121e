"""Idempotency-Key: a retried create never makes a second job."""

from __future__ import annotations

import uuid

import pytest

from generation.models import Job
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

BODY = {"preset": "tiny", "prompt": "a red fox in snow", "seed": 3}


def test_the_same_key_twice_makes_one_job(api, owner):
    first = api.post("jobs", BODY, **{"Idempotency-Key": "abc-1"})
    again = api.post("jobs", BODY, **{"Idempotency-Key": "abc-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Job.objects.filter(owner=owner).count() == 1


def test_the_same_key_with_another_body_is_refused(api, owner):
    api.post("jobs", BODY, **{"Idempotency-Key": "abc-2"})
    body = assert_problem(api.post("jobs", {**BODY, "prompt": "a blue fox"},
                                   **{"Idempotency-Key": "abc-2"}), 409,
                          "idempotency_key_reused")
    assert "Idempotency-Key" in body["fields"]
    assert Job.objects.filter(owner=owner).count() == 1


def test_keys_are_per_person_and_without_a_key_each_request_is_a_job(api, stranger_api, owner,
                                                                      stranger):
    assert api.post("jobs", BODY, **{"Idempotency-Key": "shared"}).status_code == 201
    assert stranger_api.post("jobs", BODY, **{"Idempotency-Key": "shared"}).status_code == 201
    assert Job.objects.filter(owner=stranger).count() == 1
    api.post("jobs", BODY)
    api.post("jobs", BODY)
    assert Job.objects.filter(owner=owner).count() == 3


def test_a_key_is_kept_for_a_day_then_may_make_a_new_job(api, owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    from api.models import IdempotencyKey

    first = api.post("jobs", BODY, **{"Idempotency-Key": "daily"}).json()["id"]
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = api.post("jobs", {**BODY, "seed": 4}, **{"Idempotency-Key": "daily"})
    assert again.status_code == 201 and again.json()["id"] != first
    assert IdempotencyKey.objects.get().job_id == uuid.UUID(again.json()["id"])


def test_a_refused_request_does_not_use_up_its_key(api, owner):
    assert_problem(api.post("jobs", {**BODY, "steps": 0}, **{"Idempotency-Key": "k"}), 422,
                   "invalid_job")
    assert api.post("jobs", BODY, **{"Idempotency-Key": "k"}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_make_one_job(owner_key, owner):
    import threading

    from django.db import connection

    from tests.api.conftest import ApiClient

    barrier = threading.Barrier(4)
    answers: list[tuple[int, str]] = []

    def send() -> None:
        client = ApiClient(owner_key)
        barrier.wait()
        try:
            response = client.post("jobs", BODY, **{"Idempotency-Key": "race"})
            answers.append((response.status_code, response.json().get("id", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert Job.objects.filter(owner=owner).count() == 1
    assert sorted(status for status, _ in answers) in ([200, 200, 200, 201],
                                                      [200, 200, 201, 409],
                                                      [200, 201, 409, 409],
                                                      [201, 409, 409, 409])
    assert {job_id for status, job_id in answers if status in (200, 201)} == {
        str(Job.objects.get(owner=owner).id)}
