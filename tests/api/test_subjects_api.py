"""Subjects through the API: made from uploads with the studio's checks and messages, changed,
deleted, shared by grants; used by an API job (picked or `@name`) exactly as the studio uses
them; other people's subjects answer 404; no key, no access."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import (
    CutoutStatus,
    Job,
    JobInput,
    JobStatus,
    Subject,
    SubjectPhoto,
    Upload,
)
from generation.uploads import UploadRefused, accept_upload
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import csrf_post, make_user
from tests.i2v.helpers import image_upload, png_bytes
from tests.subjects.conftest import VACE, grant, make_subject, personalize_data
from tests.videos import make_video
from worker.catalogue import helper_for

pytestmark = pytest.mark.django_db

JOB = {"task": "personalize", "preset": VACE, "width": 832, "height": 480, "num_frames": 5,
       "steps": 2, "guidance": 5.0, "seed": 11}


def _photos(api: ApiClient, count: int) -> list[str]:
    ids = []
    for index in range(count):
        answer = api.upload("uploads", f"rex-{index}.png", png_bytes((96 + 8 * index, 96)))
        assert answer.status_code == 201, answer.content
        ids.append(answer.json()["id"])
    return ids


@pytest.fixture
def friend(db):
    return make_user("friend")


@pytest.fixture
def friend_api(friend) -> ApiClient:
    from accounts.api_keys import create_key

    return ApiClient(create_key(friend, "tests").secret)


def test_a_subject_is_made_from_uploads_and_read_back(api, owner, installed):
    photos = _photos(api, 2)
    made = api.post("subjects", {"name": "Rex", "kind": "object", "photos": photos})
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["name"], body["kind"], body["grants"]) == ("Rex", "object", [])
    assert [p["original_upload_id"] for p in body["photos"]] == photos
    # Each background is being removed on the models worker (or the photo says that cannot
    # be done here); until then jobs use the original.
    removing = helper_for("background").is_installed()
    assert {p["cutout_status"] for p in body["photos"]} == {
        "pending" if removing else "unavailable"}
    assert [p["used_upload_id"] for p in body["photos"]] == photos
    assert removing or "not installed" in body["photos"][0]["cutout_message"]
    assert api.get(f"subjects/{body['id']}").json() == body
    listed = api.get("subjects").json()
    assert listed == {"own": [body], "shared_with_you": []}
    assert Subject.objects.get(owner=owner).photos.count() == 2


def test_a_frame_of_a_video_becomes_a_photo(api, owner, installed, tmp_path):
    from tests.subjects.test_subject_pages import _real_video

    video = _real_video(owner, tmp_path)
    made = api.post("subjects", {"name": "Clip", "from_video": {"video_id": str(video.id),
                                                                "at_seconds": 0.25}})
    assert made.status_code == 201, made.content
    upload = Upload.objects.get(pk=made.json()["photos"][0]["original_upload_id"])
    assert (upload.width, upload.height) == (128, 96)
    assert upload.metadata["frame_of"] == str(video.id)
    assert upload.metadata["frame"] == 0.25


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"name": "Rex", "photos": []}, "photos", "Add at least one photo of the subject."),
    ({"name": "two words", "photos": ["{p0}"]}, "name", "Use letters, digits, - and _ only"),
    ({"name": "rex", "photos": ["{p0}"]}, "name", "You already have a subject called rex."),
    ({"name": "Six", "photos": ["{p0}", "{p1}", "{p2}", "{p3}", "{p4}", "{p5}"]}, "photos",
     "A subject has at most 5 photos; this would make 6."),
    ({"name": "Theirs", "photos": ["{theirs}"]}, "photos", "That photo is not one of your images."),
    ({"name": "Frame", "from_video": {"video_id": "{their_video}"}}, "from_video.video_id",
     "Select a valid choice."),
    ({"name": "Frame", "from_video": {"video_id": "{video}", "at_seconds": -1}},
     "from_video.at_seconds", "greater than or equal to 0"),
])
def test_a_subject_is_refused_with_the_studios_message(api, owner, stranger, installed, body,
                                                       field, message):
    make_subject(owner, "Rex", photos=1)
    mine = [str(image_upload(owner).id) for _ in range(6)]
    names = {**{f"p{i}": upload for i, upload in enumerate(mine)},
             "theirs": str(image_upload(stranger).id),
             "their_video": str(make_video(stranger).id), "video": str(make_video(owner).id)}
    filled = {k: ([v.format(**names) for v in value] if isinstance(value, list) else
                  {n: x.format(**names) if isinstance(x, str) else x for n, x in value.items()}
                  if isinstance(value, dict) else value) for k, value in body.items()}
    answer = assert_problem(api.post("subjects", filled), 422, "invalid_subject")
    assert message in answer["fields"][field], answer
    assert Subject.objects.filter(owner=owner).count() == 1  # nothing made


def test_text_the_database_cannot_store_is_refused_by_name(api, installed):
    answer = assert_problem(api.post("subjects", {"name": "Re\u0000x"}), 422, "invalid")
    assert "NUL" in answer["fields"]["name"]


def test_a_subject_is_renamed_given_more_photos_and_kept_within_five(api, owner, installed):
    subject = make_subject(owner, "Rex", photos=4)
    extra = [str(image_upload(owner).id) for _ in range(2)]
    answer = assert_problem(api.patch(f"subjects/{subject.id}", {"photos": extra}), 422,
                            "invalid_subject")
    assert answer["fields"]["photos"] == "A subject has at most 5 photos; this would make 6."
    changed = api.patch(f"subjects/{subject.id}", {"name": "Rexy", "photos": extra[:1]})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["name"], body["kind"], len(body["photos"])) == ("Rexy", "object", 5)
    assert body["photos"][-1]["original_upload_id"] == extra[0]


def test_a_photo_can_use_its_cutout_only_once_there_is_one(api, owner, installed):
    subject = make_subject(owner, "Rex", photos=2)
    photo = subject.photos.first()
    path = f"subjects/{subject.id}/photos/{photo.pk}"
    answer = assert_problem(api.put(path, {"version": "cutout"}), 409, "no_cutout")
    assert answer["message"] == "This photo has no background-removed version."
    cutout = image_upload(owner, (64, 64), (255, 255, 255))
    SubjectPhoto.objects.filter(pk=photo.pk).update(cutout=cutout, use_cutout=False,
                                                    cutout_status=CutoutStatus.READY)
    chosen = api.put(path, {"version": "cutout"})
    assert chosen.status_code == 200, chosen.content
    assert chosen.json()["used_upload_id"] == str(cutout.id)
    back = api.put(path, {"version": "original"}).json()
    assert back["used_upload_id"] == str(photo.original_id)


def test_a_subject_keeps_one_photo_at_least(api, owner, installed):
    subject = make_subject(owner, "Rex", photos=2)
    first, second = subject.photos.all()
    assert api.delete(f"subjects/{subject.id}/photos/{first.pk}").status_code == 204
    answer = assert_problem(api.delete(f"subjects/{subject.id}/photos/{second.pk}"), 409,
                            "last_photo")
    assert "at least one photo" in answer["message"]
    assert list(subject.photos.all()) == [second]
    other = make_subject(owner, "Luna", photos=2).photos.first()
    assert_problem(api.delete(f"subjects/{subject.id}/photos/{other.pk}"), 404, "not_found")


def test_a_subject_made_through_the_api_is_used_by_an_api_job_as_in_the_studio(
        api, owner, owner_client, installed):
    made = api.post("subjects", {"name": "Rex", "kind": "object", "photos": _photos(api, 2)})
    rex = made.json()
    owner_client.get(reverse("studio"))
    studio = csrf_post(owner_client, reverse("submit_job"),
                       personalize_data(prompt="@rex runs along a beach"),
                       HTTP_HX_REQUEST="true")
    assert studio.status_code == 200, studio.content.decode()[:2000]
    created = api.post("jobs", {**JOB, "prompt": "@rex runs along a beach"})
    assert created.status_code == 201, created.content
    from_api = Job.objects.get(pk=created.json()["id"])
    from_studio = Job.objects.exclude(pk=from_api.pk).get(owner=owner)
    assert from_api.params == from_studio.params
    assert from_api.params["prompt"] == "rex runs along a beach"
    assert from_api.params["subjects"] == [{"name": "Rex", "kind": "object"}]

    def rows(job):
        return [(r.role, r.position, r.upload_id, r.subject_id, r.subject_name, r.subject_kind)
                for r in JobInput.objects.filter(job=job).order_by("role", "position")]

    assert rows(from_api) == rows(from_studio)
    assert [str(r[2]) for r in rows(from_api)] == [p["used_upload_id"] for p in rex["photos"]]
    inputs = created.json()["inputs"]
    assert {(i["role"], i["subject_id"]) for i in inputs} == {("reference", rex["id"])}
    # Picked by id instead of named: the same job.
    picked = api.post("jobs", {**JOB, "prompt": "a dog runs along a beach",
                               "subjects": [rex["id"]]})
    assert picked.status_code == 201, picked.content
    assert rows(Job.objects.get(pk=picked.json()["id"]))[0][3] == Subject.objects.get().id


def test_an_api_job_names_subjects_it_may_not_use_as_missing(api, stranger_api, owner,
                                                             installed):
    rex = make_subject(owner, "Rex")
    answer = assert_problem(stranger_api.post("jobs", {**JOB, "prompt": "@Rex on a beach"}),
                            422, "invalid_job")
    assert answer["fields"]["prompt"].startswith("You have no subject called @Rex")
    answer = assert_problem(stranger_api.post("jobs", {**JOB, "prompt": "a beach",
                                                       "subjects": [str(rex.id)]}),
                            422, "invalid_job")
    assert answer["fields"]["subjects"] == ("That subject is not one of yours, nor shared "
                                            "with you.")
    # A task without reference photos says where subjects are used.
    answer = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "@Rex runs"}), 422,
                            "invalid_job")
    assert "@Rex is one of your subjects" in answer["fields"]["prompt"]
    answer = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "a dog",
                                              "subjects": [str(rex.id)]}), 422, "invalid_job")
    assert answer["fields"]["subjects"].startswith("t2v takes no subjects")
    # The server writes which subjects a job used; a client cannot.
    answer = assert_problem(api.post("jobs", {**JOB, "prompt": "a dog", "options": {
        "subjects": [{"name": "Fake", "kind": "person"}]}}), 422, "invalid_job")
    assert "takes no option 'subjects'" in answer["fields"]["options.subjects"]
    assert not Job.objects.exists()


def test_grants_let_a_named_user_use_a_subject_and_revoking_fails_their_waiting_job(
        api, friend_api, owner, friend, stranger, installed):
    rex = make_subject(owner, "Rex")
    granted = api.post(f"subjects/{rex.id}/grants", {"username": "FRIEND"})
    assert granted.status_code == 201, granted.content
    assert granted.json()["username"] == "friend"
    for username, message in (("friend", "friend may already use Rex."),
                              ("owner", "You can always use your own subjects."),
                              ("nobody", "There is no user called nobody."),
                              ("", "Name a user.")):
        answer = assert_problem(api.post(f"subjects/{rex.id}/grants", {"username": username}),
                                422, "grant_refused")
        assert answer["fields"] == {"username": message}
    assert [g["username"] for g in api.get(f"subjects/{rex.id}").json()["grants"]] == ["friend"]

    # The grantee sees it among those shared with them, and uses it, but cannot read it.
    assert friend_api.get("subjects").json() == {"own": [], "shared_with_you": [
        {"id": str(rex.id), "name": "Rex", "kind": "object", "owner": "owner"}]}
    assert_problem(friend_api.get(f"subjects/{rex.id}"), 404, "not_found")
    job = friend_api.post("jobs", {**JOB, "prompt": "@Rex on a beach"})
    assert job.status_code == 201, job.content
    assert JobInput.objects.filter(job_id=job.json()["id"], subject=rex).count() == 2

    revoked = api.delete(f"subjects/{rex.id}/grants/{granted.json()['id']}")
    assert revoked.status_code == 200 and revoked.json() == {"failed_jobs": 1}
    failed = Job.objects.get(pk=job.json()["id"])
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "subject_unavailable")
    assert "owner no longer lets you use the subject Rex" in failed.error_message
    answer = assert_problem(friend_api.post("jobs", {**JOB, "prompt": "@Rex on a beach"}),
                            422, "invalid_job")
    assert "You have no subject called @Rex" in answer["fields"]["prompt"]
    assert_problem(api.delete(f"subjects/{rex.id}/grants/{granted.json()['id']}"), 404,
                   "not_found")


def test_deleting_a_subject_fails_the_waiting_jobs_that_use_it(api, owner, installed):
    rex = make_subject(owner, "Rex")
    job = api.post("jobs", {**JOB, "prompt": "@Rex on a beach"}).json()
    assert api.delete(f"subjects/{rex.id}").status_code == 204
    assert not Subject.objects.exists()
    failed = Job.objects.get(pk=job["id"])
    assert failed.status == JobStatus.FAILED
    assert failed.error_message == "The subject Rex was deleted before this job ran."
    assert_problem(api.get(f"subjects/{rex.id}"), 404, "not_found")


def test_subject_routes_need_a_key_and_never_read_the_session(owner, owner_client):
    rex = make_subject(owner, "Rex")
    anonymous = ApiClient(None)
    for call in (lambda c: c.get("subjects"), lambda c: c.post("subjects", {"name": "X"}),
                 lambda c: c.delete(f"subjects/{rex.id}")):
        assert_problem(call(anonymous), 401, "unauthenticated")
    # A signed-in browser (session cookie, CSRF token and all) is no key either.
    response = csrf_post(owner_client, "/api/v1/subjects", {"name": "X"})
    assert_problem(response, 401, "unauthenticated")
    assert Subject.objects.get() == rex



@pytest.mark.parametrize("number", [2**31, 2**63, -1])
def test_photo_and_grant_ids_past_the_database_integers_are_404(api, owner, number):
    rex = make_subject(owner, "Rex")
    for call in (lambda: api.put(f"subjects/{rex.id}/photos/{number}", {"version": "original"}),
                 lambda: api.delete(f"subjects/{rex.id}/photos/{number}"),
                 lambda: api.delete(f"subjects/{rex.id}/grants/{number}")):
        assert_problem(call(), 404, "not_found")


def test_the_list_reads_in_the_same_queries_for_one_subject_or_many(api, owner, friend,
                                                                    stranger):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("subjects").status_code == 200
        return len(captured)

    grant(make_subject(owner, "Rex"), friend)
    queries()  # the key's first use of the minute is written down
    one = queries()
    for name in ("Luna", "Max"):
        subject = make_subject(owner, name, photos=3)
        grant(subject, friend)
        grant(subject, stranger)
    assert queries() == one
    assert [len(s["grants"]) for s in api.get("subjects").json()["own"]] == [2, 2, 1]


def _send_photos(api: ApiClient, subject: Subject, *files: tuple[str, bytes]):
    return api.client.post(f"/api/v1/subjects/{subject.id}/photos",
                           {"file": [SimpleUploadedFile(name, data) for name, data in files]},
                           headers=api.headers)


def test_photo_files_are_added_checked_by_content_and_never_kept_when_refused(
        api, owner, installed, settings):
    rex = make_subject(owner, "Rex", photos=2)
    added = _send_photos(api, rex, ("beach.png", png_bytes((120, 96))),
                         ("park.png", png_bytes((96, 120))))
    assert added.status_code == 201, added.content
    photos = added.json()["photos"]
    assert len(photos) == 4
    names = Upload.objects.filter(pk__in=[p["original_upload_id"] for p in photos[2:]])
    assert sorted(names.values_list("original_name", flat=True)) == ["beach.png", "park.png"]
    uploads = Upload.objects.count()

    answer = assert_problem(_send_photos(api, rex, ("a.png", png_bytes()), ("b.png", png_bytes())),
                            422, "invalid_subject")
    assert answer["fields"]["photos"] == "A subject has at most 5 photos; this would make 6."
    answer = assert_problem(_send_photos(api, rex, ("fake.png", b"not an image at all")), 422,
                            "invalid_subject")
    with pytest.raises(UploadRefused) as refused:  # what the studio's upload says of it
        accept_upload(owner, SimpleUploadedFile("fake.png", b"not an image at all"))
    assert answer["fields"]["photos"] == refused.value.message
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    answer = assert_problem(_send_photos(api, rex, ("big.png", b"\0" * (2 * 2**20))), 413,
                            "too_large")
    assert "1 MB" in answer["message"]
    assert_problem(api.client.post(f"/api/v1/subjects/{rex.id}/photos", {},
                                   headers=api.headers), 422, "invalid")
    assert Upload.objects.count() == uploads and rex.photos.count() == 4
