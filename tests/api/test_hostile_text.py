"""Text PostgreSQL cannot store (NUL, lone UTF-16 surrogates) is refused with a 422 that
names the field, wherever it is sent; it never reaches the database as a 500."""

from __future__ import annotations

import json

import pytest

from api.models import WebhookEndpoint
from generation.models import Job
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

TINY = {"preset": "tiny", "prompt": "a red fox in snow", "width": 128, "height": 128,
        "num_frames": 5, "steps": 2}
# JSON escapes, as a client would send them: json.dumps keeps them escaped.
HOSTILE = ["\u0000", "a fox\u0000", "\ud800", "a \udfff fox"]


def _post_raw(api, path: str, body: dict) -> object:
    return api.client.post(f"/api/v1/{path}", data=json.dumps(body),
                           content_type="application/json", headers=api.headers)


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_prompt_with_nul_or_a_lone_surrogate_is_a_422_naming_it(api, field, text):
    body = assert_problem(_post_raw(api, "jobs", {**TINY, field: text}), 422, "invalid")
    assert field in body["fields"], body
    assert not Job.objects.exists()


@pytest.mark.parametrize("text", HOSTILE)
def test_an_options_value_or_name_with_nul_is_a_422(api, text):
    body = assert_problem(_post_raw(api, "jobs", {**TINY, "task": "i2v",
                                                  "options": {"fit": text}}), 422, "invalid")
    assert "options.fit" in body["fields"], body
    body = assert_problem(_post_raw(api, "jobs", {**TINY, "options": {text: 1}}), 422,
                          "invalid")
    assert "options" in body["fields"], body


@pytest.mark.parametrize("text", HOSTILE)
def test_a_webhook_url_with_nul_or_a_lone_surrogate_is_a_422(api, text):
    body = assert_problem(_post_raw(api, "webhooks", {"url": f"https://example.com/{text}",
                                                      "events": ["started"]}), 422, "invalid")
    assert "url" in body["fields"], body
    assert not WebhookEndpoint.objects.exists()


def test_an_idempotency_key_with_nul_is_a_422(api):
    response = api.client.post("/api/v1/jobs", data=json.dumps(TINY),
                               content_type="application/json",
                               headers={**api.headers, "Idempotency-Key": "key\x00"})
    body = assert_problem(response, 422, "invalid")
    assert "Idempotency-Key" in body["fields"]


def test_a_spec_with_nul_is_refused_where_every_job_is_checked(owner):
    """The last line of defence: a job built by any path (form, API, retry) is checked."""
    from generation.specs import SpecError, build_spec

    spec = build_spec("t2v", "tiny", {**TINY, "prompt": "fox\x00", "seed": 1,
                                      "guidance": 5.0})
    with pytest.raises(SpecError) as refused:
        spec.validate()
    assert "prompt" in refused.value.errors
