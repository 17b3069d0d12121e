"""Add sound on a video's page: the form appears only where a soundtrack model is installed
(and says which one is missing otherwise); a press queues a job of the video for the
installed model, with the keep/replace choice and volume only where the video has sound;
bad input is refused with a sentence; another person's video is a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from generation.models import InputRole, Job, JobStatus
from generation.specs import AddSound, InputRef
from tests.api.conftest import assert_problem
from tests.conftest import csrf_post
from tests.editing.conftest import gallery_video
from tests.editing.media import numbered_frames
from tests.sound.sources import sound_video
from worker.catalogue.soundtrack import STABLE_AUDIO_3, save_soundtrack

pytestmark = pytest.mark.django_db
FORM = 'aria-label="Add sound"'


@pytest.fixture
def media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def page_of(client, video) -> str:
    return client.get(reverse("video_detail", args=[video.id])).content.decode()


def press(client, video, **fields: str):
    client.get(reverse("video_detail", args=[video.id]))
    return csrf_post(client, reverse("add_sound", args=[video.id]), fields, follow=True)


def test_the_form_appears_only_where_a_soundtrack_model_is_installed(models, media, owner,
                                                                     owner_client,
                                                                     monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    video = gallery_video(owner, numbered_frames(8), fps=8)
    page = page_of(owner_client, video)
    assert FORM not in page and reverse("add_sound", args=[video.id]) not in page
    assert "Add sound needs Stable Audio 3 Medium, which is not installed." in page

    save_soundtrack("demo-stable-audio", models / STABLE_AUDIO_3.id)
    page = page_of(owner_client, video)
    assert FORM in page and reverse("add_sound", args=[video.id]) in page
    assert "Stable Audio 3 Medium makes 1.0 s of sound" in page


def test_on_the_embedded_default_the_demo_offers_it_and_the_mix_only_for_a_video_with_sound(
        models, media, owner, owner_client):
    silent = page_of(owner_client, gallery_video(owner, numbered_frames(8), fps=8))
    assert FORM in silent and "Demo · adding sound" in silent
    assert 'name="mix"' not in silent and 'name="volume"' not in silent
    heard = page_of(owner_client, sound_video(owner, numbered_frames(16, 96, 64), fps=8))
    assert FORM in heard and 'name="mix" value="under" checked' in heard
    assert 'name="mix" value="replace"' in heard and 'name="volume"' in heard


def test_a_press_queues_a_job_of_the_video_for_the_installed_model(models, media, owner,
                                                                  owner_client):
    video = gallery_video(owner, numbered_frames(8), fps=8)
    response = press(owner_client, video, prompt="waves on shingle", mix="under",
                     volume="30")
    assert response.redirect_chain[-1][0] == reverse("studio")
    assert "Adding sound to it" in response.content.decode()
    # The job's card names the model by its label, as for video models.
    assert "Demo · adding sound" in response.content.decode()
    job = Job.objects.get(owner=owner, kind="soundtrack")
    assert job.status == JobStatus.QUEUED and job.preset == "demo-stable-audio"
    # A silent video has no sound to go under: the new one is the sound.
    assert {k: job.params[k] for k in ("prompt", "width", "height", "num_frames", "fps",
                                       "mix", "steps", "guidance")} == {
        "prompt": "waves on shingle", "width": 96, "height": 64, "num_frames": 8, "fps": 8,
        "mix": "replace", "steps": 4, "guidance": 1.0}
    source = job.inputs.get()
    assert (source.role, source.video_id) == (InputRole.SOURCE_VIDEO, video.id)

    heard = sound_video(owner, numbered_frames(16, 96, 64), fps=8)
    press(owner_client, heard, prompt="gulls", mix="under", volume="30")
    job = Job.objects.get(owner=owner, kind="soundtrack", inputs__video=heard)
    assert (job.params["mix"], job.params["volume"]) == ("under", pytest.approx(0.3))


@pytest.mark.parametrize(("fields", "message"), [
    ({"prompt": "   "}, "Write what it should sound like."),
    ({"prompt": "x" * 2001}, "Keep it under 2000 characters."),
    ({"prompt": "rain", "mix": "louder", "volume": "50"},
     "Put the new sound under the video&#x27;s own, or replace it."),
    ({"prompt": "rain", "mix": "under", "volume": "150"},
     "The new sound&#x27;s volume is between 0 and 1 (100 %)."),
    ({"prompt": "rain", "mix": "under", "volume": "loud"},
     "The new sound&#x27;s volume is between 0 and 1 (100 %)."),
])
def test_bad_input_is_refused_with_a_sentence(models, media, owner, owner_client, fields,
                                              message):
    video = sound_video(owner, numbered_frames(16, 96, 64), fps=8)
    page = press(owner_client, video, **fields).content.decode()
    assert message in page
    assert not Job.objects.filter(kind="soundtrack").exists()


def test_a_video_longer_than_the_model_makes_is_refused(models, media, owner, owner_client):
    video = gallery_video(owner, numbered_frames(8), fps=8)
    video.frame_count, video.duration_s = 8 * 31, 31.0  # what encoding would have recorded
    video.save(update_fields=["frame_count", "duration_s"])
    page = press(owner_client, video, prompt="rain").content.decode()
    assert "makes at most 30 s of sound; this video plays 31.0 s." in page
    assert not Job.objects.filter(kind="soundtrack").exists()
    ref = InputRef(role=InputRole.SOURCE_VIDEO, video_id=video.id)
    spec = AddSound.for_source(ref, "rain", seed=7, preset="stable-audio-3-medium")
    assert "preset" in spec.errors()


def test_a_stranger_gets_404_for_someone_else_s_video(models, media, owner, stranger_client):
    video = gallery_video(owner, numbered_frames(4), fps=8)
    stranger_client.get(reverse("studio"))
    response = csrf_post(stranger_client, reverse("add_sound", args=[video.id]),
                         {"prompt": "rain"})
    assert response.status_code == 404
    assert stranger_client.get(reverse("video_detail", args=[video.id])).status_code == 404
    assert not Job.objects.filter(kind="soundtrack").exists()


def test_a_subject_s_name_in_the_sound_prompt_is_just_words(models, media, owner, owner_client):
    # Mentions are checked against the video model's abilities; a helper model (the soundtrack
    # model here) is not in that catalogue, and the check answered 500.
    from tests.subjects.conftest import make_subject

    make_subject(owner, name="Rex")
    video = gallery_video(owner, numbered_frames(8), fps=8)
    response = press(owner_client, video, prompt="@Rex barking at the sea")
    assert response.status_code == 200 and "Adding sound to it" in response.content.decode()
    assert Job.objects.get(owner=owner, kind="soundtrack").params["prompt"] == (
        "@Rex barking at the sea")


def test_the_api_creates_a_soundtrack_job_as_the_page_does(models, media, owner, api,
                                                           owner_client):
    video = sound_video(owner, numbered_frames(16, 96, 64), fps=8)
    body = {"task": "soundtrack", "preset": "", "prompt": "gulls over a harbour",
            "inputs": [{"role": "source_video", "video_id": str(video.id)}],
            "options": {"mix": "under", "volume": 0.3}, "seed": 11}
    response = api.post("/api/v1/jobs", body)
    assert response.status_code == 201, response.content.decode()
    made = response.json()
    assert (made["task"], made["preset"]) == ("soundtrack", "demo-stable-audio")
    assert {k: made["params"][k] for k in ("prompt", "mix", "volume", "seed", "fps")} == {
        "prompt": "gulls over a harbour", "mix": "under", "volume": 0.3, "seed": 11, "fps": 8}
    # The page's form makes the same job of the same choices (its seed drawn).
    press(owner_client, video, prompt="gulls over a harbour", mix="under", volume="30")
    paged = Job.objects.filter(kind="soundtrack").exclude(pk=made["id"]).get()
    assert {**paged.params, "seed": 11} == made["params"]

    for change, field, words in (
            ({"options": {"mix": "louder"}}, "mix", "under the video"),
            ({"options": {"pitch": 2}}, "options.pitch", "takes no option"),
            ({"steps": 3}, "steps", "leave this unset"),
            ({"speed": "balanced"}, "speed", "leave this unset"),
            ({"sound": False}, "sound", "makes a video with sound"),
            ({"prompt": "  "}, "prompt", "Write what it should sound like."),
            ({"inputs": []}, "inputs", "one input: its source_video")):
        problem = assert_problem(api.post("/api/v1/jobs", {**body, **change}), 422,
                                 "invalid_job")
        assert words in problem["fields"][field], (change, problem)
    assert Job.objects.filter(kind="soundtrack").count() == 2
