"""The image form's crop box fields and its re-render when an image is chosen: what each
re-render keeps, and that the hidden upload inputs ask for it (htmx, no script)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from generation.models import Job
from tests.conftest import csrf_post
from tests.i2v.helpers import i2v_data, image_upload
from worker.catalogue.base import Preset

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _installed(monkeypatch, settings, tmp_path: Path):
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed",
                        lambda self: self.id == "ltx-video" or original(self))
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def studio_client(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200
    return owner_client


def _crop(box):
    return dict(zip(("crop_left", "crop_top", "crop_right", "crop_bottom"),
                    (str(v) for v in box), strict=True))


def test_the_crop_box_fields_become_the_specs_crop(studio_client, owner):
    start = image_upload(owner, size=(400, 300))
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(
        start_image=str(start.id), **_crop((100, 40, 320, 190))), **HTMX)
    assert response.status_code == 200, response.content.decode()
    assert Job.objects.get(owner=owner).params["crop"] == [100, 40, 320, 190]


def test_a_crop_box_outside_the_image_is_refused(studio_client, owner):
    start = image_upload(owner, size=(400, 300))
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(
        start_image=str(start.id), **_crop((100, 40, 420, 190))), **HTMX)
    assert response.status_code == 422
    assert "reaches outside the 400 × 300 start image" in response.content.decode()
    assert not Job.objects.exists()


def test_a_crop_box_is_ignored_when_the_image_is_padded(studio_client, owner):
    start = image_upload(owner, size=(400, 300))
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(
        start_image=str(start.id), fit="pad", **_crop((0, 0, 10, 10))), **HTMX)
    assert response.status_code == 200, response.content.decode()
    assert Job.objects.get(owner=owner).params["crop"] is None


def test_the_crop_editor_shows_once_an_image_is_chosen(studio_client, owner):
    start = image_upload(owner, size=(400, 300))
    bare = studio_client.get(reverse("generation_form"), {"task": "i2v"}).content.decode()
    assert "data-crop-editor" not in bare and 'name="crop_left"' in bare
    form = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "start_image": str(start.id)}).content.decode()
    assert 'data-source-width="400" data-source-height="300"' in form
    assert reverse("upload_thumb", args=[start.id]) in form


def test_the_hidden_image_inputs_rerender_the_form_on_change(studio_client):
    form = studio_client.get(reverse("generation_form"), {"task": "i2v"}).content.decode()
    start = form[form.index('name="start_image"'):]
    start = start[:start.index(">")]
    assert 'hx-get="/studio/form/"' in start and 'hx-trigger="change"' in start
    assert 'hx-include="#generation-form"' in start


def test_a_new_start_image_keeps_the_settings_and_picks_the_size_nearest_it(studio_client,
                                                                          owner):
    tall = image_upload(owner, size=(90, 160))
    chosen = {"task": "i2v", "preset": "ltx-video", "start_image": str(tall.id),
              "size": "704x480", "num_frames": "17", "steps": "7", "prompt": "a kite",
              **_crop((0, 0, 50, 50))}
    form = studio_client.get(reverse("generation_form"), chosen, HTTP_HX_REQUEST="true",
                             HTTP_HX_TRIGGER_NAME="start_image").content.decode()
    assert '<option value="512x768" selected>' in form  # nearest 9:16
    assert '<option value="17" selected>' in form and 'value="7"' in form
    assert "a kite" in form
    assert 'name="crop_left" value="0"' not in form  # the old image's box is gone
    # A keyframe chosen keeps the size and the box as they were.
    kept = studio_client.get(reverse("generation_form"), chosen, HTTP_HX_REQUEST="true",
                             HTTP_HX_TRIGGER_NAME="keyframe_image").content.decode()
    assert '<option value="704x480" selected>' in kept
    assert 'name="crop_left" value="0"' in kept
    # Another model starts from its own defaults.
    switched = studio_client.get(reverse("generation_form"), chosen, HTTP_HX_REQUEST="true",
                                 HTTP_HX_TRIGGER_NAME="preset").content.decode()
    assert '<option value="161" selected>' in switched


def test_the_users_earlier_images_are_offered_to_pick_theirs_only(studio_client, owner,
                                                                   stranger):
    mine, theirs = image_upload(owner), image_upload(stranger)
    form = studio_client.get(reverse("generation_form"), {"task": "i2v"}).content.decode()
    assert f'data-pick-upload="{mine.id}"' in form
    assert str(theirs.id) not in form
    assert reverse("uploads") in form
