"""`@name` of a subject in a job whose model or task takes no reference photos is refused with
a message saying so (the studio's form and the API alike), never silently ignored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.api_keys import create_key
from generation.models import Job
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import csrf_post
from tests.jobs import form_data
from tests.subjects.conftest import grant, make_subject

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_text_to_video_prompt_naming_a_subject_is_refused_in_the_studio(owner, owner_client):
    make_subject(owner, "Rex")
    owner_client.get(reverse("studio"))
    response = csrf_post(owner_client, reverse("submit_job"),
                         form_data(prompt="@Rex runs along a beach"), **HTMX)
    assert response.status_code == 422
    page = response.content.decode()
    assert "@Rex is one of your subjects" in page
    assert "takes no reference photos" in page and "With a subject" in page
    assert not Job.objects.exists()


def test_a_granted_subject_counts_too_and_the_api_names_the_prompt(owner, stranger):
    grant(make_subject(owner, "Rex"), stranger)
    api = ApiClient(create_key(stranger, "tests").secret)
    response = api.post("jobs", {"preset": "tiny", "prompt": "@rex and a cat"})
    body = assert_problem(response, 422, "invalid_job")
    assert "@Rex is one of your subjects" in body["fields"]["prompt"]
    assert not Job.objects.exists()


def test_an_at_sign_that_names_no_subject_is_plain_text(owner, owner_client):
    owner_client.get(reverse("studio"))
    response = csrf_post(owner_client, reverse("submit_job"),
                         form_data(prompt="a sign that reads @home"), **HTMX)
    assert response.status_code == 200
    assert Job.objects.get(owner=owner).params["prompt"] == "a sign that reads @home"
