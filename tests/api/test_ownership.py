"""Every object route of the API answers a stranger 404, and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.main import api as ninja_api
from api.models import WebhookEndpoint
from generation import prompt_help
from generation.loras import accept_lora
from generation.models import Job, JobStatus, Lora, Subject, SubjectGrant, Upload, Video
from generation.prompt_help import PromptHelp
from storyboards.models import Shot, Storyboard
from tests.api.conftest import assert_problem
from tests.conftest import make_user
from tests.i2v.helpers import image_upload, png_bytes
from tests.jobs import make_job
from tests.loras.files import lora_bytes
from tests.subjects.conftest import grant, make_subject
from tests.videos import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def things(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    hook = WebhookEndpoint.objects.create(owner=owner, url="https://example.com/h",
                                          secret="s", events=["succeeded"])
    subject = make_subject(owner, "Rex", photos=2)
    lora = accept_lora(owner, SimpleUploadedFile("ink.safetensors", lora_bytes("tiny")),
                       name="ink", purpose="style")
    board = Storyboard.objects.create(owner=owner, title="Harbour")
    # An Improve prompt request lives in the cache, not a table; its id names it.
    help_request = PromptHelp(id=str(uuid.uuid4()), owner_id=owner.pk, prompt="a harbour",
                              preset="tiny", instructions_of="wan", helper_id="demo-qwen")
    prompt_help.save(help_request)
    return {"help": help_request, "job": make_job(owner, status=JobStatus.FAILED),
            "active": make_job(owner, status=JobStatus.QUEUED), "video": make_video(owner),
            "upload": image_upload(owner), "webhook": hook, "subject": subject,
            "photo": subject.photos.first(), "grant": grant(subject, make_user("friend")),
            "lora": lora, "storyboard": board,
            "shot": Shot.objects.create(storyboard=board, position=1, prompt="a harbour",
                                        preset="demo-ltx2", num_frames=9, seed=1)}


ROUTES = [
    ("get", "jobs/{job}"), ("post", "jobs/{active}/cancel"), ("post", "jobs/{job}/retry"),
    ("get", "jobs/{job}/events"), ("get", "uploads/{upload}"), ("delete", "uploads/{upload}"),
    ("get", "videos/{video}"), ("delete", "videos/{video}"),
    ("put", "videos/{video}/sharing"), ("get", "videos/{video}/file"),
    ("get", "videos/{video}/poster"), ("delete", "webhooks/{webhook}"),
    ("get", "subjects/{subject}"), ("patch", "subjects/{subject}"),
    ("delete", "subjects/{subject}"), ("put", "subjects/{subject}/photos/{photo}"),
    ("delete", "subjects/{subject}/photos/{photo}"), ("post", "subjects/{subject}/grants"),
    ("delete", "subjects/{subject}/grants/{grant}"), ("get", "loras/{lora}"),
    ("patch", "loras/{lora}"), ("delete", "loras/{lora}"),
    ("upload", "subjects/{subject}/photos"),  # a multipart POST
    ("get", "storyboards/{storyboard}"), ("patch", "storyboards/{storyboard}"),
    ("delete", "storyboards/{storyboard}"), ("post", "storyboards/{storyboard}/render"),
    ("post", "storyboards/{storyboard}/shots"),
    ("patch", "storyboards/{storyboard}/shots/{shot}"),
    ("delete", "storyboards/{storyboard}/shots/{shot}"),
    ("post", "storyboards/{storyboard}/shots/{shot}/move"),
    ("get", "prompt-help/{help}"),
]
# The bodies that the owner's calls get right (a stranger's are refused before they are read).
BODIES = {"videos/{video}/sharing": {"visibility": "unlisted"},
          "subjects/{subject}": {"name": "Rexy"},
          "subjects/{subject}/photos/{photo}": {"version": "original"},
          "subjects/{subject}/grants": {"username": "stranger"},
          "loras/{lora}": {"name": "ink 2"},
          "storyboards/{storyboard}": {"title": "Port"},
          "storyboards/{storyboard}/shots": {"prompt": "a gull"},
          "storyboards/{storyboard}/shots/{shot}": {"prompt": "a gull"},
          "storyboards/{storyboard}/shots/{shot}/move": {"direction": "down"}}


def _path(template: str, things: dict) -> str:
    return template.format(**{name: thing.id if isinstance(thing, PromptHelp) else thing.pk
                              for name, thing in things.items()})


def _call(client, method: str, template: str, things: dict):
    path = _path(template, things)
    if method == "upload":
        return client.upload(path, "photo.png", png_bytes())
    body = BODIES.get(template) if method in ("put", "patch", "post") else None
    return getattr(client, method)(path, body) if body else getattr(client, method)(path)


def test_the_matrix_covers_every_object_route():
    templated = {path.replace("/api/v1/", "") for path in ninja_api.get_openapi_schema()["paths"]
                 if "{" in path}
    names = {"{job}": "{job_id}", "{active}": "{job_id}", "{upload}": "{upload_id}",
             "{video}": "{video_id}", "{webhook}": "{webhook_id}",
             "{subject}": "{subject_id}", "{photo}": "{photo_id}", "{grant}": "{grant_id}",
             "{lora}": "{lora_id}", "{storyboard}": "{storyboard_id}", "{shot}": "{shot_id}",
             "{help}": "{help_id}"}
    covered = set()
    for _, template in ROUTES:
        for short, long in names.items():
            template = template.replace(short, long)
        covered.add(template)
    assert templated == covered


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_it_answers_a_stranger_404(method, template, things, stranger_api, owner):
    jobs_before = Job.objects.filter(owner=owner).count()
    uploads_before = Upload.objects.count()
    assert_problem(_call(stranger_api, method, template, things), 404, "not_found")
    # Nothing changed for the owner.
    assert Job.objects.filter(owner=owner).count() == jobs_before
    assert Job.objects.get(pk=things["job"].pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=things["active"].pk).status == JobStatus.QUEUED
    assert Video.objects.get(pk=things["video"].pk).visibility == "private"
    assert Upload.objects.filter(pk=things["upload"].pk).exists()
    assert Upload.objects.count() == uploads_before
    assert WebhookEndpoint.objects.filter(pk=things["webhook"].pk).exists()
    subject = Subject.objects.get(pk=things["subject"].pk)
    assert (subject.name, subject.photos.count()) == ("Rex", 2)
    assert list(SubjectGrant.objects.values_list("pk", flat=True)) == [things["grant"].pk]
    assert Lora.objects.get(pk=things["lora"].pk).name == "ink"
    assert Storyboard.objects.get(pk=things["storyboard"].pk).title == "Harbour"
    assert list(Shot.objects.values_list("prompt", flat=True)) == ["a harbour"]


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_it_answers_the_owner(method, template, things, api, stranger):
    response = _call(api, method, template, things)
    assert response.status_code in (200, 201, 202, 204), response.content[:300]


@pytest.mark.parametrize("path", ["jobs", "videos", "webhooks", "loras", "storyboards"])
def test_lists_show_only_the_callers_own(path, things, stranger_api):
    body = stranger_api.get(path).json()
    assert (body["items"] if isinstance(body, dict) else body) == []
