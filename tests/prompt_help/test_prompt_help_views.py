"""Improve prompt in the studio: the button where a prompt model runs (and why not where none
does), bad prompts refused with a message, requests queued on the models worker, answers for
their owner only, CSRF, and a job's recipe keeping the prompt as the person wrote it."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from generation import prompt_help
from generation.models import Job
from generation.presets import Preset
from tests.conftest import csrf_post
from tests.videos import make_video

URL = "/studio/improve-prompt/"


def _ask(client: Client, prompt: str = "a fox in snow", preset: str = "tiny", **extra: str):
    return csrf_post(client, URL, {"prompt": prompt, "preset": preset, "task": "t2v", **extra})


def test_the_studio_offers_improve_prompt_in_the_chosen_models_style(owner_client, models):
    page = owner_client.get(reverse("studio")).content.decode()
    assert 'data-improve-prompt' in page and 'hx-params="prompt,preset,task"' in page
    assert "detailed style Wan was trained on" in page  # tiny is a Wan 2.1
    assert 'name="prompt_original"' in page and "js/prompt-help.js" in page
    ltx2 = owner_client.get(reverse("generation_form"), {"task": "t2v", "preset": "demo-ltx2"})
    assert "detailed style LTX-2 was trained on" in ltx2.content.decode()


def test_without_a_prompt_model_the_button_says_what_to_install(owner_client, models,
                                                                 monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    real = "wan2.1-t2v-1.3b"  # read as installed: the studio has a model, but no prompt model
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed", lambda self: self.id == real or original(self))
    page = owner_client.get(reverse("studio")).content.decode()
    assert "data-improve-prompt" not in page
    assert "Improve prompt needs a prompt model" in page
    assert "fetch_model qwen2.5-0.5b-instruct" in page
    response = _ask(owner_client, preset=real)
    assert response.status_code == 422
    assert "Improve prompt needs a prompt model" in response.content.decode()


@pytest.mark.parametrize(("prompt", "message"), [
    ("", "Write a prompt first"),
    ("   \n ", "Write a prompt first"),
    ("x" * 2001, "Keep the prompt under 2000 characters"),
    ("a fox\x00 in snow", "NUL"),
])
def test_a_bad_prompt_is_refused_with_a_message(owner_client, models, prompt, message):
    response = _ask(owner_client, prompt)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()


def test_an_unknown_or_uninstalled_model_is_refused(owner_client, models):
    for preset in ("no-such-model", "wan2.1-t2v-14b"):
        response = _ask(owner_client, preset=preset)
        assert response.status_code == 422
        assert "Choose an installed model first" in response.content.decode()


def test_a_request_is_queued_for_the_models_worker_and_polled_by_its_owner(
        owner_client, stranger_client, models):
    queue = redis.Redis.from_url(settings.REDIS_URL)
    before = queue.llen(settings.CELERY_MODELS_QUEUE)
    response = _ask(owner_client, "  a fox in snow  ", preset="demo-ltx2", task="i2v")
    assert response.status_code == 202
    assert queue.llen(settings.CELERY_MODELS_QUEUE) == before + 1
    page = response.content.decode()
    assert "Writing a LTX-2-style prompt" in page and 'hx-trigger="every 1s"' in page
    request_id = page.split("?id=")[1].split('"')[0]
    asked = prompt_help.load(request_id)
    assert asked is not None
    assert (asked.prompt, asked.preset, asked.instructions_of, asked.from_image,
            asked.makes_sound) == ("a fox in snow", "demo-ltx2", "ltx2", True, True)
    assert owner_client.get(URL, {"id": request_id}).status_code == 200
    assert stranger_client.get(URL, {"id": request_id}).status_code == 404
    assert owner_client.get(URL, {"id": "not-a-uuid"}).status_code == 404


def test_an_answer_shows_as_a_suggestion_to_use_edit_or_dismiss(owner_client, models):
    response = _ask(owner_client, "a <b>fox</b>")
    request_id = response.content.decode().split("?id=")[1].split('"')[0]
    asked = prompt_help.claim(request_id)
    assert asked is not None and prompt_help.claim(request_id) is None  # one worker only
    prompt_help.finish(asked, suggestion="Cinematic film still, a red <fox> runs", seconds=1.5)
    page = owner_client.get(URL, {"id": request_id}).content.decode()
    assert "hx-trigger" not in page  # the poll stops
    assert "Cinematic film still, a red &lt;fox&gt; runs</textarea>" in page
    assert 'data-original="a &lt;b&gt;fox&lt;/b&gt;"' in page
    assert "Use this prompt" in page and "Dismiss" in page


def test_a_request_no_worker_takes_fails_with_a_message(owner_client, models):
    response = _ask(owner_client)
    request_id = response.content.decode().split("?id=")[1].split('"')[0]
    asked = prompt_help.load(request_id)
    assert asked is not None
    asked.asked_at = time.time() - prompt_help.UNANSWERED_AFTER_S - 1
    prompt_help.save(asked)
    page = owner_client.get(URL, {"id": request_id}).content.decode()
    assert "No worker answered" in page and "hx-trigger" not in page


def test_it_needs_a_csrf_token_and_a_signed_in_person(owner_client, models):
    response = owner_client.post(URL, {"prompt": "a fox", "preset": "tiny"})
    assert response.status_code == 403
    signed_out = Client().post(URL, {"prompt": "a fox", "preset": "tiny"})
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]


def test_requests_are_rate_limited(owner_client, models, settings):
    settings.RATELIMIT_ENABLE = True
    from django.core.cache import cache

    cache.clear()
    answers = [_ask(owner_client).status_code for _ in range(11)]
    assert answers[:10] == [202] * 10 and answers[10] == 422
    assert "wait a minute" in _ask(owner_client).content.decode()


def _generate(client: Client, **extra: str):
    client.get(reverse("studio"))
    return csrf_post(client, reverse("submit_job"), {
        "task": "t2v", "preset": "tiny", "prompt": "Cinematic film still, a red fox runs",
        "size": "128x128", "num_frames": "9", "steps": "2", "guidance": "5", **extra},
        headers={"HX-Request": "true"})


def test_the_job_keeps_the_prompt_as_written_beside_the_improved_one(owner_client, models):
    response = _generate(owner_client, prompt_original=" a fox ")
    assert response.status_code == 200, response.content.decode()[:2000]
    params = Job.objects.get().params
    assert params["prompt"] == "Cinematic film still, a red fox runs"
    assert params["prompt_original"] == "a fox"


def test_an_original_equal_to_the_prompt_or_empty_is_not_kept(owner_client, models):
    _generate(owner_client, prompt_original="Cinematic film still, a red fox runs")
    _generate(owner_client, prompt_original="")
    assert [("prompt_original" in job.params) for job in Job.objects.all()] == [False, False]


def test_an_original_with_nul_is_refused(owner_client, models):
    response = _generate(owner_client, prompt_original="a fox\x00")
    assert response.status_code == 422
    assert not Job.objects.exists()


def test_the_video_page_shows_both_prompts(owner, owner_client, models):
    video = make_video(owner, prompt="Cinematic film still, a red fox runs")
    video.recipe["prompt_original"] = "a fox"
    video.save()
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "Cinematic film still, a red fox runs" in page
    assert "data-recipe-original>a fox" in page
