"""Keyframes on the image form: the timeline for a model that takes them, the rows a submit
stores (KEYFRAME inputs by position, their frames and strengths in the params), what the
worker's request gets, and each refusal with its message and no job."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from generation import lifecycle
from generation.inputs import load_media
from generation.models import InputRole, Job, JobInput
from generation.specs import ImageToVideo, InputRef, KeyframePlace, SpecError
from tests.conftest import csrf_post
from tests.i2v.helpers import i2v_data, image_upload
from worker.catalogue.base import Preset

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
INSTALLED = {"ltx-video", "wan2.1-flf2v-14b-720p"}


@pytest.fixture(autouse=True)
def _installed(monkeypatch, settings, tmp_path: Path):
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed",
                        lambda self: self.id in INSTALLED or original(self))
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def studio_client(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200
    return owner_client


def _keyframed(start, images, frames, strengths, **overrides):
    data = i2v_data(start_image=str(start.id), **{"num_frames": "17", **overrides})
    data.update(keyframe_image=[str(i.id) if hasattr(i, "id") else i for i in images],
                keyframe_frame=[str(f) for f in frames],
                keyframe_strength=[str(s) for s in strengths])
    return data


def test_the_timeline_shows_for_ltx_and_a_keyframe_is_added_on_request(studio_client, owner):
    start, middle = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    form = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "ltx-video", "start_image": str(start.id),
        "num_frames": "17"}).content.decode()
    assert "data-keyframes" in form and "Add a keyframe" in form
    assert 'name="keyframe_frame"' not in form  # none placed yet
    added = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "ltx-video", "start_image": str(start.id), "num_frames": "17",
        "keyframe_image": str(middle.id), "keyframe_frame": "8", "keyframe_strength": "0.5",
        "add_keyframe": "1"}, **HTMX).content.decode()
    # The one placed keeps its image, frame and strength; the new one takes the last free frame.
    assert reverse("upload_thumb", args=[middle.id]) in added
    assert 'name="keyframe_frame" value="8"' in added
    assert 'name="keyframe_frame" value="16"' in added
    assert 'step="8"' in added and 'max="16"' in added
    assert "<script" not in added and "style=" not in added
    wan = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "wan2.1-flf2v-14b-720p"}).content.decode()
    assert "data-keyframes" not in wan


def test_keyframes_become_ordered_inputs_with_their_places(studio_client, owner):
    start = image_upload(owner)
    first, second = image_upload(owner, colour=(0, 0, 200)), image_upload(owner, (90, 160))
    response = csrf_post(studio_client, reverse("submit_job"),
                         _keyframed(start, [second, first], [16, 8], [1, 0.4]), **HTMX)
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner)
    assert job.params["keyframes"] == [[16, 1.0], [8, 0.4]]
    rows = list(JobInput.objects.filter(job=job, role=InputRole.KEYFRAME)
                .order_by("position").values_list("position", "upload_id"))
    assert rows == [(0, second.id), (1, first.id)]
    spec = lifecycle.spec_of(job)
    assert isinstance(spec, ImageToVideo)
    assert spec.keyframes == (KeyframePlace(16, 1.0), KeyframePlace(8, 0.4))
    # What the worker gets: each keyframe fitted to the job's size, with its place.
    request = spec.to_request(load_media(job))
    assert [(k.frame, k.strength) for k in request.keyframes] == [(16, 1.0), (8, 0.4)]
    assert {k.image.size for k in request.keyframes} == {(704, 480)}
    assert request.recipe()["inputs"] == ["image", "keyframes"]
    # The fresh form keeps them for a variation.
    assert f'value="{second.id}"' in response.content.decode()


@pytest.mark.parametrize(("frames", "strengths", "says"), [
    ([24], [1], "Keyframe 1 is at frame 24, beyond the clip&#x27;s last frame (16)."),
    ([12], [1], "Keyframe 1 is at frame 12; keyframes sit on every 8th frame (try 8 or 16)."),
    ([8, 8], [1, 0.5], "Keyframes 1 and 2 are both at frame 8; one image a moment."),
    ([0], [1], "Keyframe 1 is at frame 0, the start image&#x27;s"),
    ([8], [1.5], "Keyframe 1&#x27;s strength must be between 0 and 1; 1.5 is not."),
    ([8], [-0.1], "Keyframe 1&#x27;s strength must be between 0 and 1; -0.1 is not."),
    (["soon"], [1], "Keyframe 1 needs a whole frame number and a strength from 0 to 1."),
])
def test_misplaced_keyframes_are_refused_with_no_job(studio_client, owner, frames, strengths,
                                                     says):
    start = image_upload(owner)
    images = [image_upload(owner, colour=(0, 0, 10 * n)) for n in range(len(frames))]
    response = csrf_post(studio_client, reverse("submit_job"),
                         _keyframed(start, images, frames, strengths), **HTMX)
    assert response.status_code == 422
    assert says in response.content.decode()
    assert not Job.objects.exists() and not JobInput.objects.exists()


def test_too_many_keyframes_are_refused(studio_client, owner):
    start = image_upload(owner)
    images = [image_upload(owner) for _ in range(9)]
    response = csrf_post(studio_client, reverse("submit_job"), _keyframed(
        start, images, [8 * n for n in range(1, 10)], [1] * 9, num_frames="81"), **HTMX)
    assert response.status_code == 422
    assert "takes at most 8 keyframes; 9 were given." in response.content.decode()
    assert not Job.objects.exists()


def test_a_keyframe_without_an_image_or_with_someone_elses_is_refused(studio_client, owner,
                                                                     stranger):
    start, theirs = image_upload(owner), image_upload(stranger)
    empty = csrf_post(studio_client, reverse("submit_job"),
                      _keyframed(start, [""], [8], [1]), **HTMX)
    assert empty.status_code == 422
    assert "Choose an image for keyframe 1, or remove it." in empty.content.decode()
    foreign = csrf_post(studio_client, reverse("submit_job"),
                        _keyframed(start, [theirs], [8], [1]), **HTMX)
    assert foreign.status_code == 422
    assert "Keyframe 1&#x27;s image is not one of your images." in foreign.content.decode()
    assert not Job.objects.exists()


def test_a_model_without_keyframes_refuses_them(studio_client, owner):
    start, end, middle = image_upload(owner), image_upload(owner), image_upload(owner)
    data = _keyframed(start, [middle], [8], [1], preset="wan2.1-flf2v-14b-720p",
                      size="1280x720", end_image=str(end.id))
    response = csrf_post(studio_client, reverse("submit_job"), data, **HTMX)
    assert response.status_code == 422
    page = response.content.decode()
    assert "takes no keyframes; LTX-Video 2B (fast, 25 fps) or " in page  # or its demo
    assert not Job.objects.exists()


def test_the_lifecycle_refuses_keyframes_that_do_not_match_their_images(owner):
    start, middle = image_upload(owner), image_upload(owner)
    spec = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480, num_frames=17,
                        steps=2, guidance=3.0, seed=1,
                        keyframes=(KeyframePlace(8, 1.0), KeyframePlace(16, 1.0)),
                        inputs=(InputRef(InputRole.START_IMAGE, upload_id=start.id),
                                InputRef(InputRole.KEYFRAME, upload_id=middle.id)))
    with pytest.raises(SpecError, match="1 images, 2 places"):
        lifecycle.submit(owner, spec)
    assert not Job.objects.exists()


def test_a_retry_keeps_the_keyframes_and_their_places(owner):
    start, middle = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    spec = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480, num_frames=17,
                        steps=2, guidance=3.0, seed=1, keyframes=(KeyframePlace(16, 0.3),),
                        inputs=(InputRef(InputRole.START_IMAGE, upload_id=start.id),
                                InputRef(InputRole.KEYFRAME, upload_id=middle.id)))
    job = lifecycle.submit(owner, spec)
    lifecycle.cancel(job)
    job.refresh_from_db()
    again = lifecycle.retry(job)
    retried = lifecycle.spec_of(again)
    assert isinstance(retried, ImageToVideo) and retried.keyframes == spec.keyframes
    assert set(retried.inputs) == set(spec.inputs)
    assert JobInput.objects.get(job=again, role=InputRole.KEYFRAME).upload_id == middle.id
