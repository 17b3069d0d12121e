"""Jobs through the API: the same specs as the forms, any task, clear refusals."""

from __future__ import annotations

import pytest

from generation.models import InputRole, Job, JobInput, JobStatus
from tests.api.conftest import assert_problem
from tests.editing.conftest import gallery_video, mask_upload
from tests.editing.media import numbered_frames, rect_mask
from tests.i2v.helpers import image_upload, png_bytes
from tests.jobs import make_job

pytestmark = pytest.mark.django_db

TINY = {"preset": "tiny", "prompt": "a red fox in snow", "width": 128, "height": 128,
        "num_frames": 5, "steps": 2}


def test_it_creates_a_text_to_video_job_with_the_presets_defaults(api, owner):
    response = api.post("jobs", {"preset": "tiny", "prompt": "  a red fox in snow "})
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(owner=owner)
    assert body["id"] == str(job.id) and body["status"] == "queued"
    assert body["queue_position"] == 1 and body["progress"] == {"step": 0, "total": 0}
    assert job.kind == "t2v" and job.preset == "tiny"
    assert job.params["prompt"] == "a red fox in snow"
    assert (job.params["width"], job.params["height"]) == (128, 128)  # tiny's defaults
    assert job.params["seed"] >= 0 and body["params"]["seed"] == job.params["seed"]


def test_a_job_that_does_not_validate_names_its_fields_and_makes_nothing(api, owner):
    response = api.post("jobs", {**TINY, "width": 999, "steps": 0, "prompt": " "})
    body = assert_problem(response, 422, "invalid_job")
    assert {"prompt", "steps", "width", "height"} <= set(body["fields"])
    assert "999x128" in body["fields"]["width"]
    assert not Job.objects.exists()


def test_a_badly_typed_body_is_a_422_with_fields(api):
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x", "steps": "many",
                                             "colour": "red"}), 422, "invalid")
    assert "steps" in body["fields"] and "colour" in body["fields"]


def test_an_unknown_model_or_option_is_refused_by_name(api):
    body = assert_problem(api.post("jobs", {**TINY, "preset": "nope"}), 422, "invalid_job")
    assert "nope" in body["fields"]["preset"]
    body = assert_problem(api.post("jobs", {**TINY, "options": {"fit": "pad"}}), 422,
                          "invalid_job")
    assert "options.fit" in body["fields"]
    body = assert_problem(api.post("jobs", {**TINY, "task": "i2v"}), 422, "invalid_job")
    assert "cannot do" in body["fields"]["preset"]


def test_image_to_video_takes_an_upload_sent_through_the_api(api, owner, installed):
    answer = api.upload("uploads", "harbour.png", png_bytes((300, 200)))
    assert answer.status_code == 201, answer.content
    upload = answer.json()
    assert (upload["kind"], upload["width"], upload["original_name"]) == ("image", 300,
                                                                          "harbour.png")
    response = api.post("jobs", {
        "task": "i2v", "preset": "ltx-video", "prompt": "the boat sails away",
        "num_frames": 9, "steps": 2, "options": {"fit": "pad"},
        "inputs": [{"role": "start_image", "upload_id": upload["id"]}]})
    assert response.status_code == 201, response.content
    job = Job.objects.get(owner=owner)
    assert job.kind == "i2v" and job.params["fit"] == "pad"
    row = JobInput.objects.get(job=job)
    assert (row.role, str(row.upload_id)) == (InputRole.START_IMAGE, upload["id"])
    assert response.json()["inputs"] == [{"role": "start_image", "position": 0,
                                          "upload_id": upload["id"], "video_id": None,
                                          "subject_id": None, "strength": None,
                                          "expert": None}]


def _clip(owner):
    """A real six-second MP4 in the owner's gallery: long enough for every model's default."""
    return gallery_video(owner, numbered_frames(100), fps=16)


def test_video_to_video_takes_a_gallery_video_by_id(api, owner, installed):
    video = _clip(owner)
    response = api.post("jobs", {
        "task": "v2v", "preset": "cogvideox-5b", "prompt": "as a watercolour",
        "options": {"strength": 0.6},
        "inputs": [{"role": "source_video", "video_id": str(video.id)}]})
    assert response.status_code == 201, response.content
    job = Job.objects.get(owner=owner, kind="v2v")
    assert JobInput.objects.get(job=job).video_id == video.id
    assert job.params["strength"] == 0.6


def test_a_file_that_is_not_an_image_or_video_is_refused_and_nothing_is_kept(api, owner):
    from generation.models import Upload

    body = assert_problem(api.upload("uploads", "x.png", b"not an image at all" * 10), 422,
                          "upload_refused")
    assert "file" in body["fields"]
    assert not Upload.objects.exists()


def test_someone_elses_upload_is_no_input_and_makes_no_job(api, stranger, owner, installed):
    theirs = image_upload(stranger)
    body = assert_problem(api.post("jobs", {
        "task": "i2v", "preset": "ltx-video", "prompt": "x", "num_frames": 9,
        "inputs": [{"role": "start_image", "upload_id": str(theirs.id)}]}), 422, "invalid_job")
    assert "does not exist" in body["message"]
    assert not Job.objects.exists()


def test_get_job_shows_step_of_total_and_an_eta_while_running(api, owner):
    job = make_job(owner, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(progress_step=2, progress_total=8,
                                         timings={"denoise_elapsed_s": 1.0})
    body = api.get(f"jobs/{job.id}").json()
    assert body["progress"] == {"step": 2, "total": 8}
    assert body["eta_seconds"] == 3.0 and body["queue_position"] is None


def test_queue_positions_follow_the_fair_order(api, owner, stranger):
    first, second = make_job(stranger), make_job(owner)
    assert api.get(f"jobs/{second.id}").json()["queue_position"] == 2
    assert first.pk != second.pk


def test_jobs_list_in_cursor_pages_newest_first(api, owner, stranger):
    made = [make_job(owner, seed=n) for n in range(5)]
    make_job(stranger)
    seen, cursor = [], None
    while True:
        page = api.get("jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [str(j.id) for j in sorted(made, key=lambda j: (j.created_at, j.id),
                                              reverse=True)]
    assert_problem(api.get("jobs?cursor=garbage"), 422, "invalid")
    assert_problem(api.get("jobs?limit=1000"), 422, "invalid")


def test_cancel_and_retry(api, owner):
    job = Job.objects.get(pk=api.post("jobs", TINY).json()["id"])
    cancelled = api.post(f"jobs/{job.id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_problem(api.post(f"jobs/{job.id}/cancel"), 409, "not_cancellable")
    retried = api.post(f"jobs/{job.id}/retry")
    assert retried.status_code == 201, retried.content
    new = Job.objects.get(pk=retried.json()["id"])
    assert new.retry_of_id == job.id and new.params == job.params
    assert_problem(api.post(f"jobs/{new.id}/retry"), 409, "not_retryable")


def test_the_active_job_cap_is_a_429(api, owner, settings):
    owner.max_active_jobs = 1
    owner.save()
    assert api.post("jobs", TINY).status_code == 201
    assert_problem(api.post("jobs", TINY), 429, "job_limit_reached")


@pytest.mark.parametrize(("task", "inputs"), [
    ("edit", lambda owner: [{"role": "source_video", "video_id": str(
        gallery_video(owner, numbered_frames(81), fps=16).id)},
                            {"role": "mask", "upload_id": str(mask_upload(
                                owner, rect_mask(96, 64, (10, 10, 40, 40))).id)}]),
    ("extend", lambda owner: [{"role": "source_video", "video_id": str(_clip(owner).id)}]),
    ("personalize", lambda owner: [{"role": "reference", "upload_id": str(image_upload(owner).id)},
                                   {"role": "reference",
                                    "upload_id": str(image_upload(owner).id)}]),
])
def test_every_other_task_is_accepted_on_a_model_that_does_it(api, owner, installed, task,
                                                              inputs):
    given = inputs(owner)
    response = api.post("jobs", {"task": task, "preset": "wan2.1-vace-1.3b",
                                 "prompt": "the same scene at night", "inputs": given})
    assert response.status_code == 201, response.content
    job = Job.objects.get(owner=owner, kind=task)
    assert JobInput.objects.filter(job=job).count() == len(given)


def test_a_task_missing_its_input_names_the_role(api, owner, installed):
    body = assert_problem(api.post("jobs", {"task": "edit", "preset": "wan2.1-vace-1.3b",
                                            "prompt": "x"}), 422, "invalid_job")
    assert "source_video" in body["fields"]
    source = gallery_video(owner, numbered_frames(81), fps=16)
    body = assert_problem(api.post("jobs", {
        "task": "edit", "preset": "wan2.1-vace-1.3b", "prompt": "x",
        "inputs": [{"role": "source_video", "video_id": str(source.id)}]}), 422, "invalid_job")
    assert "Mark the area to change" in body["fields"]["mask"]
