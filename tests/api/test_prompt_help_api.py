"""Improve prompt through the API: POST /prompt-help queues a request on the models worker
(the real Redis broker), GET /prompt-help/{id} polls it for its owner only; bad prompts and
models are refused with the studio's messages in the API's error shape, and the studio's rate
limit counts both."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings

from generation import prompt_help
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import csrf_post


def _ask(api: ApiClient, prompt: str = "a fox in snow", preset: str = "tiny", **extra: str):
    return api.post("prompt-help", {"preset": preset, "prompt": prompt, **extra})


def test_a_request_is_queued_and_polled_by_its_owner_only(api, stranger_api, owner, models):
    queue = redis.Redis.from_url(settings.REDIS_URL)
    before = queue.llen(settings.CELERY_MODELS_QUEUE)
    response = _ask(api, "  a fox in snow  ", preset="demo-ltx2", task="extend")
    assert response.status_code == 202, response.content.decode()
    assert queue.llen(settings.CELERY_MODELS_QUEUE) == before + 1
    body = response.json()
    assert (body["status"], body["prompt"], body["preset"], body["style"], body["suggestion"]) \
        == ("queued", "a fox in snow", "demo-ltx2", "LTX-2", "")
    asked = prompt_help.load(body["id"])
    assert asked is not None and asked.owner_id == owner.pk
    # An extension grows out of the source's last frames: a prompt about motion, as for i2v.
    assert (asked.from_image, asked.instructions_of, asked.makes_sound) == (True, "ltx2", True)
    assert api.get(f"prompt-help/{body['id']}").json()["status"] == "queued"
    assert_problem(stranger_api.get(f"prompt-help/{body['id']}"), 404, "not_found")
    assert_problem(api.get("prompt-help/00000000-0000-4000-8000-000000000000"), 404,
                   "not_found")
    assert_problem(api.get("prompt-help/not-a-uuid"), 422, "invalid")


def test_a_restyle_prompt_is_written_as_a_text_to_video_one(api, models):
    body = _ask(api, task="v2v").json()
    asked = prompt_help.load(body["id"])
    assert asked is not None and asked.from_image is False


def test_the_answer_is_the_suggestion(api, models):
    body = _ask(api, "a <b>fox</b>").json()
    asked = prompt_help.claim(body["id"])
    assert asked is not None
    assert api.get(f"prompt-help/{body['id']}").json()["status"] == "running"
    prompt_help.finish(asked, suggestion="Cinematic film still, a red fox runs", seconds=1.5)
    answer = api.get(f"prompt-help/{body['id']}").json()
    assert (answer["status"], answer["suggestion"], answer["seconds"], answer["message"]) == (
        "succeeded", "Cinematic film still, a red fox runs", 1.5, "")
    assert answer["prompt"] == "a <b>fox</b>" and answer["helper"] == asked.helper_id


def test_a_request_no_worker_takes_fails_with_a_message(api, models):
    body = _ask(api).json()
    asked = prompt_help.load(body["id"])
    assert asked is not None
    asked.asked_at = time.time() - prompt_help.UNANSWERED_AFTER_S - 1
    prompt_help.save(asked)
    answer = api.get(f"prompt-help/{body['id']}").json()
    assert answer["status"] == "failed" and "No worker answered" in answer["message"]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"prompt": ""}, "prompt", "Write a prompt first"),
    ({"prompt": "  \n "}, "prompt", "Write a prompt first"),
    ({"prompt": "x" * 2001}, "prompt", "Keep the prompt under 2000 characters"),
    ({"preset": "no-such-model"}, "preset", "Choose an installed model first"),
    ({"preset": "wan2.1-t2v-14b"}, "preset", "Choose an installed model first"),
])
def test_a_bad_prompt_or_model_is_refused_with_the_studios_message(api, models, body, field,
                                                                   message):
    refused = assert_problem(api.post("prompt-help", {"preset": "tiny", "prompt": "a fox",
                                                      **body}), 422, "prompt_help_refused")
    assert message in refused["message"] and message in refused["fields"][field]


@pytest.mark.parametrize(("body", "field"), [
    ({"prompt": "a fox\x00"}, "prompt"),
    ({"task": "upscale"}, "task"),
    ({"prompt": 3}, "prompt"),
    ({"shout": True}, "shout"),
])
def test_a_body_that_does_not_match_the_schema_is_invalid(api, models, body, field):
    refused = assert_problem(api.post("prompt-help", {"preset": "tiny", "prompt": "a fox",
                                                      **body}), 422, "invalid")
    assert field in refused["fields"]


def test_without_a_prompt_model_it_says_what_to_install(api, models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    from generation.presets import Preset

    real = "wan2.1-t2v-1.3b"
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed", lambda self: self.id == real or original(self))
    refused = assert_problem(_ask(api, preset=real), 422, "prompt_help_refused")
    assert "fetch_model qwen2.5-0.5b-instruct" in refused["message"]
    assert refused["fields"] == {}


def test_it_needs_a_key(models):
    assert_problem(_ask(ApiClient(None)), 401, "unauthenticated")
    assert_problem(ApiClient(None).get("prompt-help/00000000-0000-4000-8000-000000000000"),
                   401, "unauthenticated")


def test_the_studios_limit_counts_the_api_and_the_button(api, owner_client, models, settings):
    settings.RATELIMIT_ENABLE = True
    from django.core.cache import cache

    cache.clear()
    assert [_ask(api).status_code for _ in range(9)] == [202] * 9
    owner_client.get("/studio/")  # the CSRF cookie
    button = csrf_post(owner_client, "/studio/improve-prompt/",
                       {"prompt": "a fox", "preset": "tiny", "task": "t2v"})
    assert button.status_code == 202  # the tenth
    limited = assert_problem(_ask(api), 429, "rate_limited")
    assert "wait a minute" in limited["message"]
    assert _ask(api)["Retry-After"] == "60"
