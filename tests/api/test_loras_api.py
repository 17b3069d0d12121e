"""LoRAs through the API: uploaded (multipart, read by content with the studio's checks and
messages, within the LoRA size limit, the storage quota and the upload rate), listed, renamed
and deleted by their owner only; used by an API job exactly as the studio's form uses them."""

from __future__ import annotations

import asyncio

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.loras import accept_lora
from generation.models import InputRole, Job, JobInput, Lora, Upload
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import csrf_post
from tests.i2v.helpers import image_upload, png_bytes
from tests.jobs import form_data
from tests.loras.conftest import media_root, stored_files
from tests.loras.files import lora_bytes
from webapp.body_limit import BodyLimit

pytestmark = pytest.mark.django_db
__all__ = ["media_root"]  # the fixture, for this module

JOB = {"preset": "tiny", "prompt": "a fox", "width": 128, "height": 128, "num_frames": 17,
       "steps": 8, "guidance": 5.0, "seed": 3}


def _upload(api: ApiClient, data: bytes | None = None, filename: str = "paper.safetensors",
            **fields: str):
    return api.upload("loras", filename, lora_bytes("tiny") if data is None else data,
                      **fields)


def test_a_lora_is_uploaded_listed_read_and_counted(api, owner, media_root):
    answer = _upload(api, filename="paper.safetensors", purpose="subject", base="tiny")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    lora = Lora.objects.get(owner=owner)
    assert body["id"] == str(lora.pk)
    assert (body["name"], body["purpose"], body["base"], body["rank"]) == (
        "paper", "subject", "tiny", 4)  # named after its file
    assert body["fits"] == lora.fits and "tiny" in body["fits"]
    assert body["size_bytes"] == lora.upload.size_bytes == len(lora_bytes("tiny"))
    assert body["base_label"] and body["key_format"] == "diffusers"
    assert api.get("loras").json() == [body]
    assert api.get(f"loras/{lora.pk}").json() == body
    # Another, found from the file alone and style by default.
    second = api.upload("loras", "x.safetensors", lora_bytes("tiny", seed=1), name="ink")
    assert second.status_code == 201, second.content
    assert (second.json()["name"], second.json()["purpose"]) == ("ink", "style")
    assert [item["name"] for item in api.get("loras").json()] == ["ink", "paper"]


@pytest.mark.parametrize(("data", "fields", "message"), [
    (png_bytes(), {}, "This file is not a LoRA we can read: it does not start the way a "
                      ".safetensors file does."),
    (b"", {}, "The submitted file is empty."),
    (lora_bytes("wan2.1-t2v-14b", rank=2, limit=2), {"base": "wan2.1-t2v-1.3b"},
     "This LoRA is for Wan 2.1 14B, not Wan 2.1 1.3B"),
])
def test_a_bad_lora_is_refused_by_content_and_nothing_is_kept(api, media_root, data, fields,
                                                               message):
    answer = _upload(api, data, "style.safetensors", **fields)
    assert answer.status_code == 422, answer.content
    body = answer.json()
    assert body["code"] in ("lora_refused", "invalid")
    assert message in body["message"] and message in " ".join(body["fields"].values())
    assert not Upload.objects.exists() and stored_files(media_root) == []


def test_the_form_fields_are_checked_as_the_studio_checks_them(api, owner, media_root):
    answer = assert_problem(_upload(api, purpose="poster"), 422, "invalid")
    assert "purpose" in answer["fields"]
    answer = assert_problem(_upload(api, base="no-such-model"), 422, "invalid")
    assert "base" in answer["fields"]
    answer = assert_problem(_upload(api, name="x" * 81), 422, "invalid")
    assert "at most 80 characters" in answer["fields"]["name"]
    answer = assert_problem(api.client.post("/api/v1/loras", {"name": "x"},
                                            headers=api.headers), 422, "invalid")
    assert answer["fields"] == {"file": "Missing."}
    assert api.upload("loras", "a.safetensors", lora_bytes("tiny"), name="paper"
                      ).status_code == 201
    answer = assert_problem(api.upload("loras", "b.safetensors", lora_bytes("tiny", seed=2),
                                       name="paper"), 422, "lora_refused")
    assert answer["message"] == "You already have a LoRA called “paper”; choose another name."
    assert Lora.objects.count() == 1


def test_a_lora_over_the_lora_limit_is_413_and_the_api_route_has_the_lora_ceiling(
        api, settings, media_root):
    settings.FRAMECRAFT_MAX_UPLOAD_MB, settings.FRAMECRAFT_MAX_LORA_MB = 1, 2
    data = lora_bytes("wan2.1-t2v-1.3b", rank=64, limit=6)
    assert len(data) > 2 * 2**20
    answer = assert_problem(_upload(api, data, base="wan2.1-t2v-1.3b"), 413, "too_large")
    assert answer["message"] == "The file is larger than the 2 MB limit for LoRAs."
    assert not Upload.objects.exists() and stored_files(media_root) == []
    # Before Django: a LoRA above the uploads' limit reaches the API's LoRA route only.
    assert _status("/api/v1/loras", 5 * 2**19) is None
    assert _status("/api/v1/uploads", 5 * 2**19) == 413
    assert _status("/api/v1/loras", 4 * 2**20) == 413


def _status(path: str, length: int) -> int | None:
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        await receive()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(b"content-length", str(length).encode())]}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    return sent[0]["status"] if sent else None


def test_a_lora_counts_against_the_storage_quota(api, owner, media_root):
    image_upload(owner)
    owner.storage_quota_mb = 0
    owner.save()
    answer = assert_problem(_upload(api), 422, "lora_refused")
    assert "does not fit in your storage" in answer["message"]
    assert not Lora.objects.exists()


def test_lora_uploads_count_against_the_upload_rate(api, settings, media_root):
    from django.core.cache import cache

    settings.RATELIMIT_ENABLE, settings.FRAMECRAFT_UPLOAD_RATE = True, "1/m"
    cache.clear()
    assert _upload(api).status_code == 201
    limited = assert_problem(_upload(api, lora_bytes("tiny", seed=1), "b.safetensors"),
                             429, "rate_limited")
    assert limited["message"] == "You are uploading very fast; wait a minute and try again."
    assert Lora.objects.count() == 1


def test_a_lora_is_renamed_with_the_studios_rules(api, owner, media_root):
    paper = _lora(owner, "paper")
    _lora(owner, "ink", seed=1)
    renamed = api.patch(f"loras/{paper.pk}", {"name": "  Paper   cut "})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Paper cut"
    for name, message in (("ink", "You already have a LoRA called “ink”."),
                          ("", "A name has 1 to 80 characters."),
                          ("x" * 81, "A name has 1 to 80 characters.")):
        answer = assert_problem(api.patch(f"loras/{paper.pk}", {"name": name}), 422, "invalid")
        assert answer["fields"] == {"name": message}
    answer = assert_problem(api.patch(f"loras/{paper.pk}", {"name": "a\u0000b"}), 422,
                            "invalid")
    assert "NUL" in answer["fields"]["name"]
    assert Lora.objects.get(pk=paper.pk).name == "Paper cut"


def test_deleting_a_lora_removes_its_file_and_keeps_the_jobs_that_used_it(
        api, owner, media_root, django_capture_on_commit_callbacks):
    lora = _lora(owner, "paper")
    job = api.post("jobs", {**JOB, "loras": [{"id": str(lora.pk)}]})
    assert job.status_code == 201, job.content
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"loras/{lora.pk}").status_code == 204
    assert not Lora.objects.exists() and not Upload.objects.exists()
    assert stored_files(media_root) == []
    row = JobInput.objects.get(job_id=job.json()["id"], role=InputRole.LORA)
    assert row.upload_id is None  # the row stays, its pointer emptied
    assert_problem(api.delete(f"loras/{lora.pk}"), 404, "not_found")


def test_a_lora_uploaded_through_the_api_is_used_by_an_api_job_as_in_the_studio(
        api, owner, owner_client, media_root):
    lora = Lora.objects.get(pk=_upload(api).json()["id"])
    studio = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox", size="128x128", num_frames="17", steps="8", seed="3",
        lora_1=str(lora.pk), lora_strength_1="0.8"))
    assert studio.status_code == 302, studio.content.decode()[:2000]
    created = api.post("jobs", {**JOB, "loras": [{"id": str(lora.pk), "strength": 0.8}]})
    assert created.status_code == 201, created.content
    from_api = Job.objects.get(pk=created.json()["id"])
    from_studio = Job.objects.exclude(pk=from_api.pk).get()
    assert from_api.params == from_studio.params

    def rows(job):
        return [(r.role, r.position, r.upload_id, r.strength)
                for r in JobInput.objects.filter(job=job)]

    assert rows(from_api) == rows(from_studio) == [(InputRole.LORA, 0, lora.pk, 0.8)]
    assert [(i["role"], i["upload_id"], i["strength"]) for i in created.json()["inputs"]] == [
        ("lora", str(lora.pk), 0.8)]


def test_a_job_refuses_loras_that_do_not_fit_or_are_not_yours(api, stranger_api, owner,
                                                              media_root):
    big = _lora(owner, "big", preset="wan2.1-t2v-14b", rank=2, limit=2)
    answer = assert_problem(api.post("jobs", {**JOB, "loras": [{"id": str(big.pk)}]}), 422,
                            "invalid_job")
    assert answer["fields"]["loras"].startswith("The LoRA “big” is for Wan 2.1 14B")
    answer = assert_problem(api.post("jobs", {**JOB, "loras": [
        {"id": str(_lora(owner, "paper").pk), "strength": 9}]}), 422, "invalid_job")
    assert "strength is above 0 and at most" in answer["fields"]["loras"]
    # Someone else's LoRA is missing, not described (its name, its model).
    answer = assert_problem(stranger_api.post("jobs", {**JOB, "loras": [{"id": str(big.pk)}]}),
                            422, "invalid_job")
    assert answer["fields"] == {"loras": "One of the chosen LoRAs does not exist."}
    # And so is someone else's upload, whatever role it is given.
    mask = image_upload(owner, (64, 64))
    answer = assert_problem(stranger_api.post("jobs", {
        **JOB, "inputs": [{"role": "start_image", "upload_id": str(mask.id)}]}), 422,
        "invalid_job")
    assert answer["message"] == "One of the job's inputs does not exist."
    assert not Job.objects.exists()


def test_lora_routes_need_a_key_and_never_read_the_session(owner, owner_client, media_root):
    lora = _lora(owner, "paper")
    anonymous = ApiClient(None)
    assert_problem(anonymous.get("loras"), 401, "unauthenticated")
    assert_problem(anonymous.upload("loras", "a.safetensors", lora_bytes("tiny")), 401,
                   "unauthenticated")
    assert_problem(anonymous.patch(f"loras/{lora.pk}", {"name": "x"}), 401, "unauthenticated")
    assert_problem(anonymous.delete(f"loras/{lora.pk}"), 401, "unauthenticated")
    # A signed-in browser with its CSRF token is no key either.
    response = csrf_post(owner_client, "/api/v1/loras",
                         {"file": SimpleUploadedFile("a.safetensors", lora_bytes("tiny"))})
    assert_problem(response, 401, "unauthenticated")
    assert list(Lora.objects.values_list("name", flat=True)) == ["paper"]


def _lora(user, name: str, preset: str = "tiny", **options) -> Lora:
    return accept_lora(user, SimpleUploadedFile(f"{name}.safetensors",
                                                lora_bytes(preset, **options)),
                       name=name, purpose="style")


def test_a_name_the_database_cannot_store_is_refused_in_a_multipart_upload(api, media_root):
    answer = assert_problem(_upload(api, name="ink\u0000"), 422, "invalid")
    assert "Null characters are not allowed." in answer["fields"]["name"]
    assert not Upload.objects.exists()
