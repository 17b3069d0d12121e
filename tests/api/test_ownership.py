"""Every object route of the API answers a stranger 404, and changes nothing."""

from __future__ import annotations

import pytest

from api.main import api as ninja_api
from api.models import WebhookEndpoint
from generation.models import Job, JobStatus, Upload, Video
from tests.api.conftest import assert_problem
from tests.i2v.helpers import image_upload
from tests.jobs import make_job
from tests.videos import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def things(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    hook = WebhookEndpoint.objects.create(owner=owner, url="https://example.com/h",
                                          secret="s", events=["succeeded"])
    return {"job": make_job(owner, status=JobStatus.FAILED),
            "active": make_job(owner, status=JobStatus.QUEUED), "video": make_video(owner),
            "upload": image_upload(owner), "webhook": hook}


ROUTES = [
    ("get", "jobs/{job}"), ("post", "jobs/{active}/cancel"), ("post", "jobs/{job}/retry"),
    ("get", "jobs/{job}/events"), ("get", "uploads/{upload}"), ("delete", "uploads/{upload}"),
    ("get", "videos/{video}"), ("delete", "videos/{video}"),
    ("put", "videos/{video}/sharing"), ("get", "videos/{video}/file"),
    ("get", "videos/{video}/poster"), ("delete", "webhooks/{webhook}"),
]


def _path(template: str, things: dict) -> str:
    return template.format(**{name: thing.pk for name, thing in things.items()})


def test_the_matrix_covers_every_object_route():
    templated = {path.replace("/api/v1/", "") for path in ninja_api.get_openapi_schema()["paths"]
                 if "{" in path}
    names = {"{job}": "{job_id}", "{active}": "{job_id}", "{upload}": "{upload_id}",
             "{video}": "{video_id}", "{webhook}": "{webhook_id}"}
    covered = set()
    for _, template in ROUTES:
        for short, long in names.items():
            template = template.replace(short, long)
        covered.add(template)
    assert templated == covered


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_it_answers_a_stranger_404(method, template, things, stranger_api, owner):
    body = {"visibility": "public"} if method == "put" else None
    call = getattr(stranger_api, method)
    jobs_before = Job.objects.filter(owner=owner).count()
    response = call(_path(template, things), body) if body else call(_path(template, things))
    assert_problem(response, 404, "not_found")
    # Nothing changed for the owner.
    assert Job.objects.filter(owner=owner).count() == jobs_before
    assert Job.objects.get(pk=things["job"].pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=things["active"].pk).status == JobStatus.QUEUED
    assert Video.objects.get(pk=things["video"].pk).visibility == "private"
    assert Upload.objects.filter(pk=things["upload"].pk).exists()
    assert WebhookEndpoint.objects.filter(pk=things["webhook"].pk).exists()


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_it_answers_the_owner(method, template, things, api):
    body = {"visibility": "unlisted"} if method == "put" else None
    call = getattr(api, method)
    response = call(_path(template, things), body) if body else call(_path(template, things))
    assert response.status_code in (200, 201, 204), response.content[:300]


@pytest.mark.parametrize("path", ["jobs", "videos", "webhooks"])
def test_lists_show_only_the_callers_own(path, things, stranger_api):
    body = stranger_api.get(path).json()
    assert (body["items"] if isinstance(body, dict) else body) == []
