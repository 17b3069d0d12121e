"""The studio's image form: the task switch, the presets it offers, the start and end images,
the fit, the size preselected from the image, and what it refuses (no job in each case)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.urls import reverse
from django.utils.datastructures import MultiValueDict

from generation import lifecycle
from generation.forms import ImageToVideoForm, nearest_size
from generation.models import InputRole, Job, JobInput, Upload
from generation.specs import ImageToVideo, InputRef, SpecError
from tests.conftest import csrf_post
from tests.editing.media import mp4_bytes, numbered_frames
from tests.i2v.helpers import i2v_data, image_upload, png_bytes
from worker.catalogue.base import Preset

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
INSTALLED = {"tiny", "ltx-video", "wan2.1-flf2v-14b-720p"}


@pytest.fixture(autouse=True)
def _installed(monkeypatch, settings, tmp_path: Path):
    """As if these presets' weights were on the machine (the web side only asks)."""
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed",
                        lambda self: self.id in INSTALLED or original(self))
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def studio_client(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200  # sets the CSRF cookie
    return owner_client


def test_the_task_switch_rerenders_the_form_for_images_keeping_the_prompt(studio_client):
    page = studio_client.get(reverse("studio")).content.decode()
    assert 'name="task" value="i2v"' in page and "From an image" in page
    form = studio_client.get(reverse("generation_form"),
                             {"task": "i2v", "prompt": "a boat", "preset": "tiny"}).content.decode()
    assert 'value="i2v" checked' in form and "a boat" in form
    assert 'value="ltx-video"' in form and 'value="wan2.1-flf2v-14b-720p"' in form
    assert 'value="tiny"' not in form  # text-to-video only
    assert 'name="start_file"' in form and 'name="fit"' in form
    ltx = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "ltx-video"}).content.decode()
    assert 'name="end_file"' not in ltx  # LTX takes no end image
    flf = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "wan2.1-flf2v-14b-720p"}).content.decode()
    assert 'name="end_file"' in flf
    # Under the strict CSP: no inline script or style.
    assert "<script" not in form and "style=" not in form


def test_the_size_nearest_the_start_image_is_preselected(studio_client, owner):
    tall = image_upload(owner, size=(90, 160))
    form = studio_client.get(reverse("generation_form"), {
        "task": "i2v", "preset": "ltx-video", "start_image": str(tall.id)}).content.decode()
    # 9:16 is nearest 2:3 among LTX's sizes (704x480, 480x704, 768x512, 512x768).
    assert '<option value="512x768" selected>' in form
    assert reverse("upload_thumb", args=[tall.id]) in form
    assert nearest_size(((704, 480), (480, 704), (512, 512)), 100, 95) == (512, 512)
    assert nearest_size(((1280, 720), (720, 1280)), 4000, 3000) == (1280, 720)


def test_a_file_sent_with_the_form_becomes_the_start_image_of_a_job(studio_client, owner):
    data = i2v_data(fit="pad", start_file=SimpleUploadedFile("boat.png", png_bytes()))
    response = csrf_post(studio_client, reverse("submit_job"), data, **HTMX)
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner)
    assert (job.kind, job.preset, job.params["fit"]) == ("i2v", "ltx-video", "pad")
    row = JobInput.objects.get(job=job)
    assert row.role == InputRole.START_IMAGE and row.upload.owner == owner
    assert row.upload.original_name == "boat.png"
    # The fresh form keeps the image for a variation.
    assert f'value="{row.upload_id}"' in response.content.decode()


def test_a_bad_file_is_refused_with_the_uploads_message(studio_client, owner):
    data = i2v_data(start_file=SimpleUploadedFile("boat.png", b"not an image at all"))
    response = csrf_post(studio_client, reverse("submit_job"), data, **HTMX)
    assert response.status_code == 422
    assert "PNG, JPEG or WebP" in response.content.decode()
    assert not Job.objects.exists() and not Upload.objects.exists()


def test_no_start_image_is_refused(studio_client):
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(), **HTMX)
    assert response.status_code == 422
    assert "Choose the image the video starts from." in response.content.decode()
    assert not Job.objects.exists()


def test_another_users_upload_is_refused_and_no_job_made(studio_client, owner, stranger):
    theirs = image_upload(stranger)
    response = csrf_post(studio_client, reverse("submit_job"),
                         i2v_data(start_image=str(theirs.id)), **HTMX)
    assert response.status_code == 422
    assert "does not exist" in response.content.decode()
    assert not Job.objects.exists()
    # The lifecycle is where it is decided, whoever builds the spec.
    spec = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480, num_frames=9,
                        steps=2, guidance=3.0, seed=1,
                        inputs=(InputRef(InputRole.START_IMAGE, upload_id=theirs.id),))
    with pytest.raises(SpecError, match="does not exist"):
        lifecycle.submit(owner, spec)
    assert not Job.objects.exists()


def test_an_end_image_is_refused_on_a_model_without_one(studio_client, owner):
    start, end = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(
        start_image=str(start.id), end_image=str(end.id)), **HTMX)
    assert response.status_code == 422
    assert "takes no end image" in response.content.decode()
    assert not Job.objects.exists()


def test_start_and_end_images_on_the_first_last_frame_model(studio_client, owner):
    start, end = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    flf = {"preset": "wan2.1-flf2v-14b-720p", "size": "1280x720", "num_frames": "5"}
    only_start = csrf_post(studio_client, reverse("submit_job"),
                           i2v_data(start_image=str(start.id), **flf), **HTMX)
    assert only_start.status_code == 422
    assert "give an end image too" in only_start.content.decode()
    both = csrf_post(studio_client, reverse("submit_job"), i2v_data(
        start_image=str(start.id), end_image=str(end.id), **flf), **HTMX)
    assert both.status_code == 200, both.content.decode()
    job = Job.objects.get(owner=owner)
    roles = dict(JobInput.objects.filter(job=job).values_list("role", "upload_id"))
    assert roles == {InputRole.START_IMAGE: start.id, InputRole.END_IMAGE: end.id}


@pytest.mark.parametrize(("change", "field"), [
    ({"fit": "zoom"}, "fit"),
    ({"crop": (0, 0, 201, 120)}, "crop"),  # the image is 200 wide
    ({"crop": (10, 10, 5, 50)}, "crop"),
    ({"crop": (0, 0, 100, 100), "fit": "pad"}, "crop"),
])
def test_the_spec_validates_the_fit_and_the_crop_box(owner, change, field):
    start = image_upload(owner)
    spec = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480, num_frames=9,
                        steps=2, guidance=3.0, seed=1,
                        inputs=(InputRef(InputRole.START_IMAGE, upload_id=start.id),), **change)
    assert field in spec.errors()
    ok = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480, num_frames=9,
                      steps=2, guidance=3.0, seed=1, crop=(0, 0, 200, 120),
                      inputs=(InputRef(InputRole.START_IMAGE, upload_id=start.id),))
    assert not ok.errors()
    job = lifecycle.submit(owner, ok)
    assert lifecycle.spec_of(job) == ok  # the box survives the JSON round trip


def test_a_strangers_upload_thumbnail_is_404(studio_client, stranger):
    theirs = image_upload(stranger)
    assert studio_client.get(reverse("upload_thumb", args=[theirs.id])).status_code == 404


def test_the_worker_gets_the_start_image_fitted_by_the_jobs_fit(owner):
    import numpy as np

    from generation.inputs import load_media

    start = image_upload(owner, size=(200, 120), colour=(250, 250, 250))
    for fit, box in (("pad", None), ("crop", (0, 0, 100, 120)), ("stretch", None)):
        spec = ImageToVideo(preset="ltx-video", prompt="x", width=704, height=480,
                            num_frames=9, steps=2, guidance=3.0, seed=1, fit=fit, crop=box,
                            inputs=(InputRef(InputRole.START_IMAGE, upload_id=start.id),))
        job = lifecycle.submit(owner, spec)
        image = load_media(job)[InputRole.START_IMAGE][0]
        assert image.size == (704, 480), fit
        pixels = np.asarray(image)
        if fit == "pad":  # 200x120 (5:3) into 704x480: scaled to 704x422, 29 black rows each side
            assert (pixels[:25] == 0).all() and (pixels[-25:] == 0).all()
            assert (pixels[240] > 240).all()
        else:
            assert (pixels > 240).all()
        lifecycle.cancel(job)


def test_a_stranger_cannot_continue_from_someone_elses_video(stranger_client, owner):
    from tests.videos import make_video

    video = make_video(owner)
    assert stranger_client.get(reverse("studio")).status_code == 200
    response = csrf_post(stranger_client, reverse("continue_from_last_frame", args=[video.id]))
    assert response.status_code == 404
    assert not Upload.objects.exists()


def test_a_video_sent_as_the_start_image_is_named_on_its_field_and_not_kept(studio_client):
    video = SimpleUploadedFile("clip.mp4", mp4_bytes(numbered_frames(8), fps=8), "video/mp4")
    response = csrf_post(studio_client, reverse("submit_job"), i2v_data(start_file=video), **HTMX)
    assert response.status_code == 422
    assert "Choose an image, not a video, as the start image." in response.content.decode()
    assert not Job.objects.exists() and not Upload.objects.exists()


def test_a_start_image_sent_with_a_refused_form_is_kept_for_the_retry(studio_client, owner):
    data = i2v_data(prompt="", start_file=SimpleUploadedFile("boat.png", png_bytes()))
    response = csrf_post(studio_client, reverse("submit_job"), data, **HTMX)
    assert response.status_code == 422 and not Job.objects.exists()
    kept = Upload.objects.get(owner=owner)
    assert f'value="{kept.id}"' in response.content.decode()  # not sent a second time
    retry = csrf_post(studio_client, reverse("submit_job"),
                      i2v_data(start_image=str(kept.id)), **HTMX)
    assert retry.status_code == 200
    assert JobInput.objects.get(job__owner=owner).upload_id == kept.id
    assert Upload.objects.count() == 1


def test_validating_the_image_form_with_files_stores_nothing(owner):
    # The view accepts a sent file (generation.form_files) before binding the form to its id.
    data = QueryDict(mutable=True)
    data.update(i2v_data())
    files = MultiValueDict({"start_file": [SimpleUploadedFile("boat.png", png_bytes())],
                            "end_file": [SimpleUploadedFile("end.png", png_bytes())]})
    ImageToVideoForm(data, files, user=owner).is_valid()
    assert not Upload.objects.exists()
