"""What a person sees from each studio form that is not the prompt or image form (restyle,
change an area, reframe, extend, with a subject, swap, transfer motion) and from the subject
form, whatever goes through the submission entrance behind them: someone else's upload is as
missing as one that never was, a file of the wrong kind is named on its field, a missing seed
is drawn and stored, and a file sent with a refused form is kept for the re-try (by id) or,
where it is of no use, not kept at all."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import InputRole, Job, JobInput, Subject, Upload, UploadKind
from generation.presets import MAX_SEED
from tests.conftest import csrf_post
from tests.editing.conftest import VACE, gallery_video, mask_upload
from tests.editing.media import mp4_bytes, numbered_frames, png_bytes, rect_mask
from tests.i2v.helpers import image_upload
from tests.subjects.conftest import make_subject

pytestmark = pytest.mark.django_db

# The studio's tasks whose forms these are ("swap" and "reframe" are edits to the API).
EDIT_TASKS = ("v2v", "edit", "reframe", "extend")
TASKS = (*EDIT_TASKS, "personalize", "swap", "control")


@pytest.fixture
def vace(models, settings, tmp_path):
    """VACE reads as installed (an empty pipeline index is a complete checkpoint): enough for
    forms, which never load it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (models / VACE).mkdir()
    (models / VACE / "model_index.json").write_text('{"_class_name": "WanVACEPipeline"}')
    return models


@pytest.fixture
def clip(owner, vace):
    return gallery_video(owner, numbered_frames(16), fps=8)  # 2 s, 96 × 64


@pytest.fixture
def mask(owner, vace):
    return mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40)))


@pytest.fixture
def rex(owner, vace):
    return make_subject(owner, "Rex", photos=2)


def job_data(task: str, clip: Any = None, mask: Any = None, /, **overrides: Any
             ) -> dict[str, Any]:
    data = {"task": task, "preset": VACE, "prompt": "a red sailing boat",
            "negative_prompt": "", "size": "832x480", "num_frames": "5", "steps": "2",
            "guidance": "5.0", "seed": "3"}
    source = {"source_video": str(clip.id)} if clip is not None else {}
    mask_id = {"mask": str(mask.id)} if mask is not None else {}
    data.update({
        "v2v": source,
        "edit": {**source, **mask_id, "mode": "change", "grow": "0", "feather": "0"},
        "reframe": {**source, "size": "480x832", "anchor": "centre", "grow": "4",
                    "feather": "4"},
        "extend": {**source, "num_frames": "17", "context_frames": "5", "join": "1"},
        "personalize": {"prompt": "@Rex runs along a beach"},
        "swap": {**source, **mask_id, "prompt": "@Rex walks in"},
        "control": {**source, "control": "canny", "conditioning_scale": "1", "start_s": "0"},
    }[task])
    data.update(overrides)
    return data


def new_jobs():
    """Jobs submitted (the gallery videos' own jobs have succeeded)."""
    return Job.objects.exclude(status="succeeded")


def submit(client, data: dict[str, Any]):
    client.get(reverse("studio"))  # the CSRF cookie
    return csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")


def shown_errors(page: str) -> list[str]:
    """The messages the form shows, on its fields and above them."""
    return [field or above for field, above in re.findall(
        r'<small class="error" role="alert">(.*?)</small>|'
        r'<div class="errors message error" role="alert"><p>(.*?)</p>', page, re.S)]


def refused(client, data: dict[str, Any]) -> list[str]:
    response = submit(client, data)
    page = response.content.decode()
    assert response.status_code == 422, page
    assert not new_jobs().exists()
    return shown_errors(page)


def video_upload(owner: Any) -> Upload:
    return Upload.objects.create(owner=owner, kind=UploadKind.VIDEO, width=96, height=64,
                                 frame_count=16, fps=8, metadata={"duration": 2.0},
                                 original_name="their-holiday.mp4")


def a_video_file(name: str = "mine.mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, mp4_bytes(numbered_frames(16), fps=8), "video/mp4")


def an_image_file(name: str = "still.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(rect_mask(96, 64, (0, 0, 10, 10))), "image/png")


# --- A missing seed ---------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_a_missing_seed_is_drawn_and_stored_with_the_job(owner_client, owner, clip, mask, rex,
                                                         task):
    response = submit(owner_client, job_data(task, clip, mask, seed=""))
    assert response.status_code == 200, response.content.decode()[-3000:]
    seed = new_jobs().get(owner=owner).params["seed"]
    assert isinstance(seed, int) and 0 <= seed <= MAX_SEED
    # The next job's form leaves it empty: a random seed is drawn again.
    assert f'value="{seed}"' not in response.content.decode()


# --- Someone else's upload --------------------------------------------------------------------

@pytest.mark.parametrize(("task", "field", "message"), [
    *((task, "source_upload", "There is no such video of yours.") for task in EDIT_TASKS),
    ("edit", "mask", "There is no such mask of yours."),
    ("swap", "mask", "Give a mask: an image or video of yours at the video&#x27;s size"),
    ("control", "source_upload", "No such video of yours."),
])
def test_someone_elses_upload_is_refused_as_if_it_did_not_exist(
        owner_client, stranger, clip, mask, rex, task, field, message):
    theirs = video_upload(stranger) if field == "source_upload" else mask_upload(
        stranger, rect_mask(96, 64, (0, 0, 20, 20)))
    drop = {"source_video": ""} if field == "source_upload" else {}
    for_theirs = refused(owner_client, job_data(task, clip, mask, **drop,
                                                **{field: str(theirs.id)}))
    for_none = refused(owner_client, job_data(task, clip, mask, **drop,
                                              **{field: str(uuid.uuid4())}))
    assert any(error.startswith(message) for error in for_theirs), for_theirs
    assert for_theirs == for_none


def test_someone_elses_image_is_not_a_subjects_photo(owner_client, stranger, vace):
    def photos_refused(upload_id: str) -> str:
        owner_client.get(reverse("subjects"))
        response = csrf_post(owner_client, reverse("new_subject"),
                             {"name": "Rex", "kind": "object", "photo": [upload_id]})
        assert response.status_code == 422
        return response.content.decode()

    theirs = image_upload(stranger)
    page = photos_refused(str(theirs.id))
    assert "That photo is not one of your images." in page
    assert str(theirs.id) not in page.replace(f'value="{theirs.id}"', "")
    assert "That photo is not one of your images." in photos_refused(str(uuid.uuid4()))
    assert not Subject.objects.exists()


# --- A file of the wrong kind -----------------------------------------------------------------

@pytest.mark.parametrize("task", [*EDIT_TASKS, "control"])
def test_an_image_sent_as_the_source_video_is_named_on_its_field_and_not_kept(
        owner_client, owner, clip, mask, task):
    uploads = Upload.objects.count()
    errors = refused(owner_client, job_data(task, clip, mask, source_video="",
                                            source_file=an_image_file()))
    assert "Choose a video, not an image." in errors
    assert Upload.objects.count() == uploads


def test_a_video_sent_as_a_subjects_photo_is_named_and_nothing_is_kept(owner_client, owner,
                                                                       vace):
    owner_client.get(reverse("subjects"))
    response = csrf_post(owner_client, reverse("new_subject"), {
        "name": "Rex", "kind": "object",
        "photo_files": [an_image_file("a.png"), a_video_file("b.mp4")]})
    assert response.status_code == 422
    assert "b.mp4 is a video; a subject&#x27;s photos are images" in response.content.decode()
    assert not Subject.objects.exists() and not Upload.objects.exists()
    mine = video_upload(owner)
    response = csrf_post(owner_client, reverse("new_subject"),
                         {"name": "Rex", "kind": "object", "photo": [str(mine.id)]})
    assert "That photo is not one of your images." in response.content.decode()


# --- A file sent with a refused form ----------------------------------------------------------

@pytest.mark.parametrize("task", [*EDIT_TASKS, "control"])
def test_a_source_video_sent_with_a_refused_form_is_kept_for_the_retry(owner_client, owner,
                                                                       clip, mask, task):
    data = job_data(task, clip, mask, source_video="")
    response = submit(owner_client, {**data, "prompt": "", "source_file": a_video_file()})
    assert response.status_code == 422
    kept = Upload.objects.get(owner=owner, kind=UploadKind.VIDEO)
    assert kept.original_name == "mine.mp4"
    assert f'name="source_upload" value="{kept.id}"' in response.content.decode()
    # The re-try sends its id, not the file again.
    response = submit(owner_client, {**data, "source_upload": str(kept.id)})
    assert response.status_code == 200, response.content.decode()[-3000:]
    row = JobInput.objects.get(job=new_jobs().get(), role=InputRole.SOURCE_VIDEO)
    assert row.upload == kept and Upload.objects.filter(kind=UploadKind.VIDEO).count() == 1


def test_a_mask_sent_with_a_refused_edit_is_not_kept(owner_client, owner, clip):
    mask_file = SimpleUploadedFile("mask.png", png_bytes(rect_mask(96, 64, (10, 10, 40, 40))))
    uploads = Upload.objects.count()
    response = submit(owner_client, job_data("edit", clip, prompt="", mask_file=mask_file))
    assert response.status_code == 422
    assert Upload.objects.count() == uploads
    assert 'name="mask" value="' not in response.content.decode()


# --- clean() stores nothing -------------------------------------------------------------------

@pytest.mark.parametrize("task", [*EDIT_TASKS, "control"])
def test_validating_a_form_with_files_stores_nothing(owner, clip, task):
    # The view accepts a sent file (generation.form_files) before binding the form to its id.
    from django.http import QueryDict
    from django.utils.datastructures import MultiValueDict

    from generation.views import STUDIO_FORMS

    data = QueryDict(mutable=True)
    data.update(job_data(task, clip, source_video=""))
    files = MultiValueDict({"source_file": [a_video_file()],
                            "mask_file": [an_image_file("mask.png")]})
    uploads = Upload.objects.count()
    form = STUDIO_FORMS[task](data, files, user=owner)
    form.is_valid()
    assert Upload.objects.count() == uploads


def test_validating_a_subject_form_with_files_stores_nothing(owner, vace):
    from django.utils.datastructures import MultiValueDict

    from generation.subject_forms import SubjectForm, accept_photos

    form = SubjectForm({"name": "Rex", "kind": "object"},
                       MultiValueDict({"photo_files": [an_image_file()]}), owner=owner)
    assert form.is_valid(), form.errors
    assert not Upload.objects.exists()
    assert accept_photos(form) and [u.original_name for u in form.photo_uploads] == [
        "still.png"]
    assert form.save().photos.get().original == form.photo_uploads[0]
