"""A task that no installed model runs is greyed out in the pickers and, when picked, says
which model it needs (with the install route for an admin) instead of showing inputs that
would be uploaded, cropped or drawn for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from generation.availability import TASK_RULES, can_run, offer
from generation.edit_forms import EDIT_TASK_CHOICES
from generation.forms import TASK_CHOICES
from tests.editing.conftest import gallery_video
from tests.editing.media import numbered_frames
from worker.catalogue import build_pipeline, get_preset

pytestmark = pytest.mark.django_db
LTX = "ltx-video"


@pytest.fixture
def no_demo_models(models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Production as it starts: the demo models off and nothing installed yet."""
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    return models


def test_every_task_the_studio_offers_runs_on_the_embedded_default(models):
    for value, _ in [*TASK_CHOICES, *EDIT_TASK_CHOICES]:
        assert can_run(value), f"{value} has no model on a fresh install"


def test_with_nothing_installed_each_task_names_a_real_model_it_needs(no_demo_models):
    for value in TASK_RULES:
        entry = offer(value, value)
        assert not entry.available
        assert entry.needs is not None and not entry.needs.builtin
        assert entry.needs.can(TASK_RULES[value][0])
        assert entry.needs.label in entry.reason


def test_the_studio_greys_out_every_task_and_shows_no_inputs(no_demo_models, owner_client):
    page = owner_client.get(reverse("studio")).content.decode()
    assert page.count("task-option selected unavailable") == 1
    assert page.count("· not installed") == len(TASK_CHOICES)
    assert get_preset("wan2.1-t2v-1.3b").label in page
    assert "Ask an admin to install it" in page
    assert 'name="prompt"' not in page and ">Generate</button>" not in page


@pytest.mark.parametrize("task", ["i2v", "swap", "control"])
def test_picking_a_task_with_no_model_asks_for_nothing_to_be_uploaded(no_demo_models,
                                                                       owner_client, task):
    response = owner_client.get(reverse("generation_form"), {"task": task},
                                HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="task")
    page = response.content.decode()
    assert response.status_code == 200
    assert "is not available here yet" in page
    assert 'type="file"' not in page and "data-dropzone" not in page
    assert "crop" not in page.lower().replace("crop box", "")


def test_an_admin_is_shown_how_to_install_the_missing_model(no_demo_models, owner,
                                                           owner_client):
    owner.is_staff = True
    owner.save()
    page = owner_client.get(reverse("studio") + "?task=i2v").content.decode()
    needs = offer("i2v", "").needs
    assert needs is not None
    assert reverse("admin:generation_modeloperation_changelist") in page
    assert f"fetch_model {needs.id}" in page and "--from" in page


def test_the_edit_studio_offers_no_mask_tools_without_a_masking_model(no_demo_models, owner,
                                                                      owner_client,
                                                                      settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    video = gallery_video(owner, numbered_frames(8), fps=8)
    page = owner_client.get(reverse("edit_studio"),
                            {"video": video.id, "task": "edit"}).content.decode()
    assert 'data-edit-task=""' in page
    assert 'name="mask_file"' not in page
    assert "is not available here yet" in page


def test_an_installed_model_makes_exactly_its_tasks_available(no_demo_models, owner_client):
    build_pipeline(LTX, "tiny", seed=0).save_pretrained(no_demo_models / LTX)
    assert can_run("t2v") and can_run("i2v") and can_run("extend")
    assert not can_run("edit") and not can_run("personalize") and not can_run("swap")
    page = owner_client.get(reverse("studio") + "?task=i2v").content.decode()
    assert "is not available here yet" not in page and 'name="prompt"' in page
    assert page.count("· not installed") == 3  # with a subject, swap, transfer motion


def test_a_videos_page_offers_only_what_a_model_here_can_do(no_demo_models, owner,
                                                           owner_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    video = gallery_video(owner, numbered_frames(8), fps=8)
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    for action in (">Extend</a>", "Transfer its motion</a>", ">Edit</a>",
                   "Continue from the last frame</button>", "Animate this frame</button>"):
        assert action not in page
    assert "Not available here yet" in page and "Transfer its motion" in page

    build_pipeline(LTX, "tiny", seed=0).save_pretrained(no_demo_models / LTX)
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert ">Extend</a>" in page and "Animate this frame</button>" in page
    assert "Transfer its motion</a>" not in page and "Not available here yet" in page


def test_on_the_embedded_default_a_videos_page_offers_every_action(models, owner, owner_client,
                                                                   settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    video = gallery_video(owner, numbered_frames(8), fps=8)
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "Not available here yet" not in page
    assert ">Extend</a>" in page and "Transfer its motion</a>" in page
