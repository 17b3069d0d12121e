"""The site's forms and queries with text PostgreSQL cannot store (NUL, lone surrogates): a
form error or a 404, never a 500; names taken from files are cleaned."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job, Lora, Subject, Upload
from tests.conftest import csrf_post
from tests.jobs import form_data
from tests.loras.files import lora_bytes
from tests.subjects.conftest import make_subject
from tests.uploads.files import png

pytestmark = pytest.mark.django_db
NUL = "fox\x00"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_prompt_with_nul_is_a_form_error(owner_client):
    response = csrf_post(owner_client, reverse("submit_job"), form_data(prompt=NUL),
                         HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 422) and "Null characters" in response.text
    assert not Job.objects.exists()


def test_a_lora_rename_with_nul_is_refused(owner_client, owner, media_root):
    from generation.loras import accept_lora

    lora = accept_lora(owner, SimpleUploadedFile("paper.safetensors", lora_bytes("tiny")),
                       name="paper", purpose="style")
    response = csrf_post(owner_client, reverse("rename_lora", args=[lora.pk]),
                         {"name": NUL}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert Lora.objects.get(pk=lora.pk).name == "paper"


def test_a_lora_upload_named_with_nul_is_a_form_error(owner_client, media_root):
    response = csrf_post(owner_client, reverse("loras"), {
        "file": SimpleUploadedFile("paper.safetensors", lora_bytes("tiny")), "name": NUL,
        "purpose": "style", "base": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and not Lora.objects.exists()


def test_a_file_named_with_nul_keeps_a_clean_name(owner_client, owner, media_root):
    response = csrf_post(owner_client, reverse("uploads"),
                         {"file": SimpleUploadedFile("ha\x00rbour.png", png())})
    assert response.status_code in (200, 302), response.content[:300]
    assert Upload.objects.get(owner=owner).original_name == "harbour.png"


def test_a_subject_named_with_nul_is_a_form_error(owner_client):
    response = csrf_post(owner_client, reverse("new_subject"), {"name": NUL, "kind": "object"})
    assert response.status_code in (200, 422) and not Subject.objects.exists()


def test_a_grant_to_a_username_with_nul_finds_nobody(owner_client, owner, media_root):
    subject = make_subject(owner)
    response = csrf_post(owner_client, reverse("grant_subject", args=[subject.pk]),
                         {"username": NUL}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "There is no user called" in response.text


@pytest.mark.parametrize("query", ["q", "after", "preset", "task"])
def test_queries_with_nul_are_not_a_500(owner_client, query):
    for name in ("gallery", "explore", "studio", "edit_studio", "generation_form",
                 "edit_form"):
        response = owner_client.get(reverse(name), {query: NUL})
        assert response.status_code == 400, (name, query)
        assert "Bad request" in response.text


def test_an_api_query_with_nul_is_the_documented_422(owner):
    from accounts.api_keys import create_key
    from tests.api.conftest import ApiClient, assert_problem

    api = ApiClient(create_key(owner, "tests").secret)
    body = assert_problem(api.get("jobs?cursor=a%00b"), 422, "invalid")
    assert "cursor" in body["fields"]


def test_a_profile_or_share_link_with_nul_is_a_404(client, owner):
    assert client.get("/u/own%00er/").status_code == 404
    assert client.get("/s/ab%00cd/").status_code == 404


def test_an_api_key_named_with_nul_is_refused(owner_client, owner):
    response = csrf_post(owner_client, reverse("create_api_key"), {"name": NUL})
    assert response.status_code == 422 and "NUL" in response.text
    assert not owner.api_keys.filter(name__contains="fox").exists()
