"""Speed modes as a user meets them in the studio: each mode on the form with its ETA, the
choice stored with the job and shown on its card, fp8 offered only where a worker has it, and
"Render in quality" on a Preview or Balanced video's page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import fleet
from generation.models import InputRole, Job, JobInput, JobOrigin, JobStatus, WorkerState
from tests.conftest import csrf_post
from tests.jobs import form_data, make_job, tiny_spec
from tests.videos import make_video
from worker.catalogue import get_preset
from worker.catalogue.speed import eta_s

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def studio_client(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200  # sets the CSRF cookie
    return owner_client


def _speed_labels(page: str) -> dict[str, str]:
    return dict(re.findall(r'value="(quality|balanced|preview)"[^>]*>\s*([^<]+)', page))


def test_the_form_offers_each_mode_with_its_eta(studio_client):
    # Before any job has been measured on the fleet, each mode says so instead of a figure.
    page = studio_client.get(reverse("studio")).content.decode()
    labels = _speed_labels(page)
    assert set(labels) == {"quality", "balanced", "preview"}
    assert labels["quality"].startswith("Quality · estimating…")
    assert "H200" not in labels["balanced"]
    assert re.search(r'value="quality"[^>]*checked', page)


def test_the_eta_follows_the_steps_asked_for(studio_client, owner):
    from tests.generation.test_studio_eta import cpu_worker, finished_on

    cpu_worker()
    finished_on(owner, "", steps=8, denoise_s=4.0)
    url = reverse("generation_form")
    few = _speed_labels(studio_client.get(url, {"preset": "tiny", "steps": "8"}).content.decode())
    many = _speed_labels(studio_client.get(url, {"preset": "tiny", "steps": "40"})
                         .content.decode())
    tiny = get_preset("tiny")
    assert eta_s(tiny, "quality", 40, 5.0) == pytest.approx(5 * eta_s(tiny, "quality", 8, 5.0))
    assert few["quality"].startswith("Quality · about 4 s on CPU")
    assert many["quality"].startswith("Quality · about 20 s on CPU")


def test_the_chosen_mode_is_stored_with_the_job_and_shown_on_its_card(studio_client, owner):
    response = csrf_post(studio_client, reverse("submit_job"), form_data(speed="balanced"),
                         **HTMX)
    assert response.status_code == 200
    job = Job.objects.get(owner=owner)
    assert job.params["speed"] == "balanced" and job.params["fp8"] is False
    assert "Balanced" in response.content.decode()
    # Its time while it waits: nothing was measured on a worker yet.
    assert "time: estimating…" in response.content.decode()


def test_a_form_without_a_speed_means_quality(studio_client, owner):
    csrf_post(studio_client, reverse("submit_job"), form_data(), **HTMX)
    assert Job.objects.get(owner=owner).params["speed"] == "quality"


def test_an_unknown_speed_is_refused_inline_and_nothing_is_created(studio_client, owner):
    response = csrf_post(studio_client, reverse("submit_job"), form_data(speed="warp"), **HTMX)
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.filter(owner=owner).exists()


def test_fp8_is_hidden_and_refused_while_no_worker_has_it(studio_client, owner):
    page = studio_client.get(reverse("studio")).content.decode()
    assert 'name="fp8"' not in page
    spec = tiny_spec(fp8=True)
    assert "No GPU worker here has fp8" in spec.errors()["fp8"]


def test_fp8_is_offered_once_a_worker_with_an_fp8_gpu_reports(studio_client, owner):
    WorkerState.objects.create(name="gpu-1", gpu_name="NVIDIA H100 80GB HBM3",
                               gpu_total_gb=79.6, seen_at=timezone.now())
    assert fleet.fp8_offered()
    page = studio_client.get(reverse("studio")).content.decode()
    assert 'name="fp8"' in page
    csrf_post(studio_client, reverse("submit_job"), form_data(fp8="on"), **HTMX)
    assert Job.objects.get(owner=owner).params["fp8"] is True


def test_an_old_gpu_does_not_offer_fp8(db):
    WorkerState.objects.create(name="gpu-a100", gpu_name="NVIDIA A100-SXM4-80GB",
                               gpu_total_gb=79.2, seen_at=timezone.now())
    assert not fleet.fp8_offered()


def test_preview_of_a_model_whose_variant_is_missing_is_refused_with_the_fix(db):
    spec = tiny_spec(preset="tiny", speed="preview")
    assert spec.errors() == {}
    errors = tiny_spec(speed="preview", fp8=True).errors()
    assert errors["fp8"].startswith("fp8 goes with Quality")


def _preview_video(owner, speed: str = "preview"):
    video = make_video(owner, "a fox in snow")
    assert video.job is not None
    video.job.params = {**video.job.params, "speed": speed, "seed": 77}
    video.job.save(update_fields=["params"])
    video.recipe = {**video.recipe, "speed": speed}
    video.save(update_fields=["recipe"])
    return video


def test_render_in_quality_reruns_the_recipe_and_seed_at_quality_linked_in_lineage(
        studio_client, owner):
    video = _preview_video(owner)
    page = studio_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert reverse("render_in_quality", args=[video.id]) in page

    response = csrf_post(studio_client, reverse("render_in_quality", args=[video.id]))
    assert response.status_code == 302
    again = Job.objects.exclude(pk=video.job.pk).get(owner=owner)
    assert again.params == {**video.job.params, "speed": "quality", "fp8": False, "sound": True}
    assert again.params["seed"] == 77
    assert again.status == JobStatus.QUEUED and again.origin == JobOrigin.REMIX
    assert JobInput.objects.filter(job=again, role=InputRole.REMIX_OF, video=video).exists()


def test_a_quality_video_has_no_render_in_quality(studio_client, owner):
    video = make_video(owner)
    page = studio_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "Render in quality" not in page
    response = csrf_post(studio_client, reverse("render_in_quality", args=[video.id]))
    assert response.status_code == 302
    assert Job.objects.filter(owner=owner).count() == 1


def test_render_in_quality_requires_the_owner(stranger_client, owner):
    video = _preview_video(owner)
    stranger_client.get(reverse("gallery"))
    response = csrf_post(stranger_client, reverse("render_in_quality", args=[video.id]))
    assert response.status_code == 404
    assert Job.objects.filter(owner=owner).count() == 1


def test_render_in_quality_needs_csrf(owner_client, owner):
    from django.test import Client

    video = _preview_video(owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("render_in_quality", args=[video.id]))
    assert response.status_code == 403
    assert Job.objects.filter(owner=owner).count() == 1


def test_render_in_quality_respects_the_job_cap(studio_client, owner):
    video = _preview_video(owner)
    for _ in range(owner.active_job_limit):
        make_job(owner)
    response = csrf_post(studio_client, reverse("render_in_quality", args=[video.id]),
                         follow=True)
    assert "the most you may have at once" in response.content.decode()
    assert Job.objects.filter(owner=owner, origin=JobOrigin.REMIX).count() == 0


def test_switching_the_model_keeps_the_chosen_speed(studio_client):
    page = studio_client.get(reverse("generation_form"),
                             {"preset": "tiny", "speed": "balanced"}).content.decode()
    assert re.search(r'value="balanced"[^>]*checked', page)
    page = studio_client.get(reverse("generation_form"),
                             {"preset": "tiny", "speed": "warp"}).content.decode()
    assert re.search(r'value="quality"[^>]*checked', page)
