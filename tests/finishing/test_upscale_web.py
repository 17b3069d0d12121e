"""Upscale on a video's page and in the API: the buttons appear only where an upscaler is
installed; a press (or a POST /jobs of task `upscale`) queues a job of the video at 2x or 4x
for the installed upscaler; sizes past 4K and other factors are refused with a sentence;
another person's video is a 404 on the page and a missing input in the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from generation.models import InputRole, Job, JobStatus
from generation.specs import InputRef, UpscaleVideo
from tests.api.conftest import assert_problem
from tests.conftest import csrf_post
from tests.editing.conftest import gallery_video
from tests.editing.media import numbered_frames
from worker.catalogue.helpers import save_helper

pytestmark = pytest.mark.django_db
BUTTONS = ('name="factor" value="2"', 'name="factor" value="4"')


@pytest.fixture
def media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def no_demo_models(models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    return models


def page_of(client, video) -> str:
    return client.get(reverse("video_detail", args=[video.id])).content.decode()


def test_the_buttons_appear_only_where_an_upscaler_is_installed(no_demo_models, media, owner,
                                                               owner_client):
    video = gallery_video(owner, numbered_frames(8), fps=8)
    page = page_of(owner_client, video)
    assert not any(button in page for button in BUTTONS)
    assert "Not available here yet" in page and "Upscale" in page

    save_helper("demo-swin2sr", no_demo_models / "swin2sr-classical-x2")
    page = page_of(owner_client, video)
    assert all(button in page for button in BUTTONS)
    assert "192 × 128" in page and "384 × 256" in page  # what each button makes


def test_on_the_embedded_default_the_demo_upscaler_offers_them(models, media, owner,
                                                              owner_client):
    page = page_of(owner_client, gallery_video(owner, numbered_frames(8), fps=8))
    assert all(button in page for button in BUTTONS) and "Upscale 4×" in page


def test_a_press_queues_an_upscale_of_the_video_in_its_lineage(models, media, owner,
                                                              owner_client):
    video = gallery_video(owner, numbered_frames(8), fps=8, prompt="a lighthouse")
    owner_client.get(reverse("video_detail", args=[video.id]))
    response = csrf_post(owner_client, reverse("upscale_video", args=[video.id]),
                         {"factor": "4"})
    assert response.status_code == 302 and response["Location"] == reverse("studio")
    job = Job.objects.get(owner=owner, kind="upscale")
    assert job.status == JobStatus.QUEUED and job.preset == "demo-swin2sr"
    assert {k: job.params[k] for k in ("width", "height", "num_frames", "factor", "fps",
                                       "prompt")} == {
        "width": 384, "height": 256, "num_frames": 8, "factor": 4, "fps": 8,
        "prompt": "a lighthouse"}
    source = job.inputs.get()
    assert (source.role, source.video_id) == (InputRole.SOURCE_VIDEO, video.id)
    studio = owner_client.get(reverse("studio")).content.decode()
    assert "Upscaling it 4× to 384 × 256." in studio


def test_another_factor_or_a_size_past_4k_is_refused_with_a_sentence(models, media, owner,
                                                                    owner_client):
    video = gallery_video(owner, numbered_frames(2, 1280, 720), fps=8)
    owner_client.get(reverse("video_detail", args=[video.id]))
    response = csrf_post(owner_client, reverse("upscale_video", args=[video.id]),
                         {"factor": "3"}, follow=True)
    assert "Upscale by 2× or 4×." in response.content.decode()
    response = csrf_post(owner_client, reverse("upscale_video", args=[video.id]),
                         {"factor": "4"}, follow=True)
    assert ("this 1280 × 720 video would be 5120 × 2880; the largest is 3840 × 2160 (4K). "
            "Choose 2×.") in response.content.decode()
    assert not Job.objects.filter(kind="upscale").exists()
    ref = InputRef(role=InputRole.SOURCE_VIDEO, video_id=video.id)
    assert UpscaleVideo.for_source(ref, 2).errors() == {}


def test_a_stranger_gets_404_for_someone_else_s_video(models, media, owner, stranger_client):
    video = gallery_video(owner, numbered_frames(4), fps=8)
    stranger_client.get(reverse("studio"))
    response = csrf_post(stranger_client, reverse("upscale_video", args=[video.id]),
                         {"factor": "2"})
    assert response.status_code == 404
    assert not Job.objects.filter(kind="upscale").exists()


def test_the_api_creates_an_upscale_job(models, media, owner, api):
    video = gallery_video(owner, numbered_frames(8), fps=8)
    body = {"task": "upscale", "preset": "", "prompt": "",
            "inputs": [{"role": "source_video", "video_id": str(video.id)}],
            "options": {"factor": 2}}
    response = api.post("/api/v1/jobs", body)
    assert response.status_code == 201, response.content.decode()
    made = response.json()
    assert made["task"] == "upscale" and made["preset"] == "demo-swin2sr"
    assert (made["params"]["width"], made["params"]["height"]) == (192, 128)

    named = api.post("/api/v1/jobs", {**body, "preset": "demo-swin2sr",
                                      "options": {"factor": 4, "sound": False}})
    assert named.status_code == 201 and named.json()["params"]["sound"] is False

    body_problem = assert_problem(api.post("/api/v1/jobs", {**body, "width": 640}), 422,
                                  "invalid_job")
    assert "leave this unset" in body_problem["fields"]["width"]
    body_problem = assert_problem(api.post("/api/v1/jobs", {**body, "preset": "demo-sam2"}),
                                  422, "invalid_job")
    assert body_problem["fields"]["preset"] == "There is no upscaler called 'demo-sam2'."
    body_problem = assert_problem(api.post("/api/v1/jobs", {**body, "options": {"steps": 3}}),
                                  422, "invalid_job")
    assert "options.steps" in body_problem["fields"]


def test_the_api_refuses_a_stranger_s_video_as_missing(models, media, owner, stranger_api):
    video = gallery_video(owner, numbered_frames(4), fps=8)
    response = stranger_api.post("/api/v1/jobs", {
        "task": "upscale", "preset": "", "prompt": "",
        "inputs": [{"role": "source_video", "video_id": str(video.id)}],
        "options": {"factor": 2}})
    body = assert_problem(response, 422, "invalid_job")
    assert body["fields"]["__all__"] == "One of the job's inputs does not exist."
    assert not Job.objects.filter(kind="upscale").exists()
