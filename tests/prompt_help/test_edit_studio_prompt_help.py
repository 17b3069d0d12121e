"""Improve prompt in the edit studio: the button under each way of editing's prompt (or why
there is none), the request it makes read for its task, and an edit job's params keeping the
prompt as the person wrote it beside the suggestion they took."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation import prompt_help
from generation.models import Job
from generation.presets import Preset
from tests.conftest import csrf_post
from tests.editing.conftest import VACE, mask_upload, media_root, source, vace_installed
from tests.editing.media import rect_mask
from tests.editing.test_edit_forms import edit_data, submit

__all__ = ["media_root", "source", "vace_installed"]  # the editing tests' fixtures
SUGGESTION = "Cinematic film still, a red sailing boat crosses a calm harbour at dawn"


@pytest.mark.parametrize("task", ["v2v", "edit", "reframe", "extend"])
def test_every_way_of_editing_offers_improve_prompt(owner_client, source, vace_installed,
                                                    task):
    page = owner_client.get(reverse("edit_studio"), {"video": source.id, "task": task})
    html = page.content.decode()
    assert page.status_code == 200
    assert "data-improve-prompt" in html and 'hx-params="prompt,preset,task"' in html
    assert "detailed style Wan was trained on" in html  # VACE is a Wan 2.1
    assert 'name="prompt_original"' in html and 'id="prompt-suggestion"' in html
    assert "js/prompt-help.js" in html and "css/prompt-help.css" in html
    # A switch of task or model brings the form alone: the button comes with it.
    form = owner_client.get(reverse("edit_form"), {"task": task, "preset": VACE,
                                                   "source_video": source.id})
    assert "data-improve-prompt" in form.content.decode()


def test_without_a_prompt_model_the_edit_studio_says_what_to_install(
        owner_client, source, vace_installed, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    html = owner_client.get(reverse("edit_studio"), {"video": source.id}).content.decode()
    assert "data-improve-prompt" not in html
    assert "Improve prompt needs a prompt model" in html


@pytest.mark.parametrize(("task", "from_image"), [("v2v", False), ("edit", False),
                                                  ("extend", True)])
def test_the_edit_studios_request_is_read_for_its_task(owner_client, source, vace_installed,
                                                       task, from_image):
    owner_client.get(reverse("edit_studio"))  # the CSRF cookie
    response = csrf_post(owner_client, reverse("improve_prompt"),
                         {"prompt": "a red boat", "preset": VACE, "task": task})
    assert response.status_code == 202, response.content.decode()
    request_id = response.content.decode().split("?id=")[1].split('"')[0]
    asked = prompt_help.load(request_id)
    assert asked is not None and (asked.preset, asked.from_image) == (VACE, from_image)


def _mask(owner) -> dict[str, str]:
    return {"mask": str(mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40))).id)}


@pytest.mark.parametrize("task", ["v2v", "edit", "extend"])
def test_an_edit_job_keeps_the_prompt_as_written(owner, owner_client, source, vace_installed,
                                                 task):
    # A masked edit needs its mask; an extension makes more frames than its context.
    extra = _mask(owner) if task == "edit" else {"num_frames": "9"} if task == "extend" else {}
    response = submit(owner_client, edit_data(source, task, prompt=SUGGESTION,
                                              prompt_original=" a red boat ", **extra))
    assert response.status_code == 200, response.content.decode()[:3000]
    job = Job.objects.get(owner=owner, kind=task)
    assert (job.params["prompt"], job.params["prompt_original"]) == (SUGGESTION, "a red boat")


def test_an_edit_job_without_a_suggestion_keeps_no_original(owner, owner_client, source,
                                                            vace_installed):
    submit(owner_client, edit_data(source, "v2v", prompt=SUGGESTION, prompt_original=""))
    submit(owner_client, edit_data(source, "v2v", prompt=SUGGESTION,
                                   prompt_original=SUGGESTION))
    assert ["prompt_original" in job.params
            for job in Job.objects.filter(owner=owner, kind="v2v")] == [False, False]


def test_an_edit_jobs_original_with_nul_is_refused(owner, owner_client, source, vace_installed):
    response = submit(owner_client, edit_data(source, "v2v", prompt_original="a boat\x00"))
    assert response.status_code == 422
    assert not Job.objects.filter(owner=owner, kind="v2v").exists()


def test_a_real_preset_without_the_demo_is_refused_when_not_installed(owner_client, models,
                                                                      monkeypatch):
    monkeypatch.setattr(Preset, "is_installed", lambda self: False)
    owner_client.get(reverse("edit_studio"))
    response = csrf_post(owner_client, reverse("improve_prompt"),
                         {"prompt": "a red boat", "preset": VACE, "task": "v2v"})
    assert response.status_code == 422
    assert "Choose an installed model first" in response.content.decode()
