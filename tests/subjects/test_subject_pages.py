"""Subjects as their owner meets them: make one from photos (uploads by id, files sent with
the form, a frame of a video), edit, choose each photo's version, delete; refused input
leaves nothing behind; strangers get 404 on every route."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import CutoutStatus, Job, JobStatus, Subject, SubjectPhoto, Upload, Video
from tests.conftest import csrf_post
from tests.i2v.helpers import image_upload, png_bytes
from tests.subjects.conftest import grant, make_subject, personalize_data
from tests.videos import make_video
from worker.runtime.encode import encode_mp4

pytestmark = pytest.mark.django_db


def _new(client, data, files=None):
    return csrf_post(client, reverse("new_subject"), {**data, **(files or {})})


def test_it_makes_a_subject_from_uploads_and_files(owner_client, owner, models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")  # no demo helper stands in
    first = image_upload(owner)
    response = _new(owner_client, {"name": "Aunt_May", "kind": "person",
                                   "photo": [str(first.id)],
                                   "photo_files": [SimpleUploadedFile("may.png",
                                                                      png_bytes((150, 90)))]})
    subject = Subject.objects.get(owner=owner)
    assert response.status_code == 302 and response["Location"] == subject.get_absolute_url()
    assert (subject.name, subject.kind) == ("Aunt_May", "person")
    photos = list(subject.photos.select_related("original"))
    assert [p.original.width for p in photos] == [200, 150]
    assert photos[0].original == first
    # No segmentation model is installed here: the photos say so and use the originals.
    assert {p.cutout_status for p in photos} == {CutoutStatus.UNAVAILABLE}
    assert all(p.chosen == p.original for p in photos)
    page = owner_client.get(subject.get_absolute_url()).content.decode()
    assert "@Aunt_May" in page and "Background removal is not installed" in page
    assert page.count("No background remover installed") == 2  # each photo's empty "After"
    assert owner_client.get(reverse("subjects")).content.decode().count(">@Aunt_May</a>") == 1


def _real_video(owner, tmp_path) -> Video:
    """A video of the owner's whose file is a real 128 x 96 MP4 (the frames get brighter)."""
    frames = np.stack([np.full((96, 128, 3), 40 * i, np.uint8) for i in range(5)])
    path = tmp_path / "real.mp4"
    encode_mp4(frames, 8, path, metadata={})
    video = make_video(owner)
    video.file.save("v.mp4", ContentFile(path.read_bytes()))
    Video.objects.filter(pk=video.pk).update(width=128, height=96)
    video.refresh_from_db()
    return video


def test_a_frame_of_a_video_becomes_a_photo(owner_client, owner, models, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    video = _real_video(owner, tmp_path)
    response = _new(owner_client, {"name": "Boat", "kind": "object",
                                   "from_video": str(video.id), "at_seconds": "0.1"})
    assert response.status_code == 302, response.content.decode()
    photo = SubjectPhoto.objects.get(subject__name="Boat")
    assert photo.original.metadata["frame_of"] == str(video.id)
    assert (photo.original.width, photo.original.height) == (video.width, video.height)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "Rex", "kind": "object"}, "Add at least one photo"),
    ({"name": "two words", "kind": "object", "photo_files": "png"}, "no spaces"),
    ({"name": "Rex", "kind": "object", "photo_files": "text"}, "is not a PNG, JPEG or WebP"),
    ({"name": "Rex", "kind": "object", "photo_files": "six"}, "at most 5 photos"),
    ({"name": "Rex", "kind": "nothing", "photo_files": "png"}, "Select a valid choice"),
])
def test_bad_input_is_refused_and_leaves_nothing(owner_client, owner, models, data, message):
    files = {"png": [SimpleUploadedFile("a.png", png_bytes())],
             "text": [SimpleUploadedFile("a.png", b"not an image at all"),
                      SimpleUploadedFile("b.png", png_bytes())],
             "six": [SimpleUploadedFile(f"{i}.png", png_bytes()) for i in range(6)]}
    data = {**data, "photo_files": files.get(data.get("photo_files", ""), [])}
    response = _new(owner_client, data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Subject.objects.exists() and not Upload.objects.exists()


def test_a_second_subject_of_the_same_name_is_refused(owner_client, owner, models):
    make_subject(owner, "Rex")
    response = _new(owner_client, {"name": "rex", "kind": "object",
                                   "photo": [str(image_upload(owner).id)]})
    assert response.status_code == 422
    assert "You already have a subject called rex." in response.content.decode()
    assert Subject.objects.count() == 1


def test_another_users_upload_is_not_a_photo(owner_client, owner, stranger, models):
    theirs = image_upload(stranger)
    response = _new(owner_client, {"name": "Rex", "kind": "object", "photo": [str(theirs.id)]})
    assert response.status_code == 422
    assert "not one of your images" in response.content.decode()
    assert not Subject.objects.exists()


def test_edit_renames_and_adds_photos_up_to_five(owner_client, owner, models):
    subject = make_subject(owner, "Rex", photos=4)
    url = reverse("edit_subject", args=[subject.id])
    two = [str(image_upload(owner).id), str(image_upload(owner).id)]
    refused = csrf_post(owner_client, url, {"name": "Rex", "kind": "object", "photo": two})
    assert refused.status_code == 422 and "this would make 6" in refused.content.decode()
    response = csrf_post(owner_client, url, {"name": "Rexy", "kind": "character",
                                             "photo": two[:1]})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.name, subject.kind, subject.photos.count()) == ("Rexy", "character", 5)


def test_each_photo_uses_the_version_its_owner_chooses(owner_client, owner, models):
    subject = make_subject(owner, photos=2)
    photo = subject.photos.first()
    cutout = image_upload(owner, (60, 60), (255, 255, 255))
    SubjectPhoto.objects.filter(pk=photo.pk).update(
        cutout=cutout, cutout_status=CutoutStatus.READY, crop=[10, 5, 70, 65])
    url = reverse("subject_photo_version", args=[subject.id, photo.id])
    page = csrf_post(owner_client, url, {"version": "cutout"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-version="cutout"' in html
    assert 'x="10" y="5" width="60" height="60"' in html  # the suggested crop, drawn
    photo.refresh_from_db()
    assert photo.chosen == cutout
    csrf_post(owner_client, url, {"version": "original"})
    photo.refresh_from_db()
    assert photo.chosen == photo.original
    # Removing the photo removes its cutout; the original stays in My uploads.
    csrf_post(owner_client, reverse("delete_subject_photo", args=[subject.id, photo.id]))
    assert not Upload.objects.filter(pk=cutout.pk).exists()
    assert Upload.objects.filter(pk=photo.original_id).exists()
    last = subject.photos.get()
    answer = csrf_post(owner_client, reverse("delete_subject_photo", args=[subject.id, last.id]))
    assert answer.status_code == 302 and subject.photos.count() == 1


def test_deleting_a_subject_keeps_its_videos_and_fails_waiting_jobs(
        owner_client, owner, friend, vace, tmp_path, settings, client):
    settings.MEDIA_ROOT = tmp_path
    subject = make_subject(owner)
    grant(subject, friend)
    video = make_video(owner)
    client.force_login(friend)
    client.get(reverse("studio"))
    assert csrf_post(client, reverse("submit_job"), personalize_data(),
                     HTTP_HX_REQUEST="true").status_code == 200
    waiting = Job.objects.get(owner=friend)
    response = csrf_post(owner_client, reverse("delete_subject", args=[subject.id]))
    assert response.status_code == 302
    assert not Subject.objects.exists() and not SubjectPhoto.objects.exists()
    assert Video.objects.filter(pk=video.pk).exists()
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_message) == (
        JobStatus.FAILED, "The subject Rex was deleted before this job ran.")
    assert waiting.inputs.get(position=0).subject_name == "Rex"


def test_every_subject_route_is_404_for_strangers_and_grantees(
        owner, stranger, stranger_client, models):
    subject = make_subject(owner)
    photo = subject.photos.first()
    grant(subject, stranger)  # may use it in a job, but not see or change it
    gr = subject.grants.get()
    reads = [reverse("subject_detail", args=[subject.id]),
             reverse("subject_photos", args=[subject.id])]
    writes = [reverse("edit_subject", args=[subject.id]),
              reverse("delete_subject", args=[subject.id]),
              reverse("subject_photo_version", args=[subject.id, photo.id]),
              reverse("delete_subject_photo", args=[subject.id, photo.id]),
              reverse("grant_subject", args=[subject.id]),
              reverse("revoke_subject_grant", args=[subject.id, gr.id])]
    for url in reads:
        assert stranger_client.get(url).status_code == 404, url
    for url in writes:
        assert csrf_post(stranger_client, url, {"name": "x", "kind": "object",
                                                "version": "original",
                                                "username": "stranger"}).status_code == 404, url
    assert Subject.objects.filter(pk=subject.pk).exists() and photo.pk and subject.grants.count()
    assert "@Rex" not in stranger_client.get(reverse("subjects")).content.decode().split(
        "Shared with you")[0]


def test_mutations_need_the_csrf_token(owner_client, owner, models):
    subject = make_subject(owner)
    response = owner_client.post(reverse("delete_subject", args=[subject.id]))
    assert response.status_code == 403
    assert Subject.objects.filter(pk=subject.pk).exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, owner, models):
    subject = make_subject(owner)
    response = client.get(reverse("subject_detail", args=[subject.id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
