"""Per-expert LoRAs (issue 20): on Wan 2.2 A14B, a model of a high-noise and a low-noise
expert, a LoRA names the experts it goes into (both, or one of a community pair such as
Lightning's). The studio offers the choice on such a model only; the spec refuses an expert
on a model of one transformer and an expert that does not exist; the stored job keeps it
through a retry and a remix, and the worker's request built from the stored job carries it
to the pipeline, where the LoRA goes into that expert alone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation import lifecycle
from generation.inputs import load_media
from generation.loras import accept_lora
from generation.models import InputRole, Job, JobInput, JobStatus, Lora, Video
from generation.specs import LoraUse
from tests.conftest import csrf_post
from tests.jobs import form_data, tiny_spec
from tests.loras.conftest import A14B, A14B_FORM
from tests.loras.files import lora_bytes
from tests.videos import make_video
from tests.worker_runtime.tiny_a14b import SIDE, install_tiny_a14b
from worker import execution
from worker.catalogue.request import EXPERTS
from worker.runtime.cache import PIPELINES

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TINY_LABEL = "Tiny random model (noise-like output, for trying the app without a GPU)"


def _a14b_spec(lora: Lora, expert: str):
    return tiny_spec(preset=A14B, width=1280, height=720, num_frames=81, steps=40,
                     guidance=4.0, loras=(LoraUse(lora.pk, 1.0, expert),))


# --- The spec -------------------------------------------------------------------------------


def test_each_expert_is_accepted_on_a_two_expert_model(a14b_offered, a14b_lora):
    for expert in EXPERTS:
        assert _a14b_spec(a14b_lora, expert).errors() == {}, expert


def test_an_expert_is_refused_on_a_model_of_one_transformer(tiny_lora):
    assert tiny_spec(loras=(LoraUse(tiny_lora.pk, 1.0, "both"),)).errors() == {}
    for expert in ("high_noise", "low_noise"):
        errors = tiny_spec(loras=(LoraUse(tiny_lora.pk, 1.0, expert),)).errors()
        assert errors == {"loras": (
            f"A LoRA cannot go into one expert of {TINY_LABEL}: it has one transformer, not a "
            "high-noise and a low-noise expert, so leave the expert at “both”.")}


@pytest.mark.parametrize("expert", ["middle", "High_Noise", "", 1])
def test_an_expert_that_does_not_exist_is_refused(a14b_offered, a14b_lora, expert):
    errors = _a14b_spec(a14b_lora, expert).errors()
    assert errors == {"loras": "A LoRA's expert is one of both, high_noise, low_noise, not "
                               f"{expert!r}."}


# --- The studio's form ------------------------------------------------------------------------


def _form(client, preset: str) -> str:
    response = client.get(reverse("generation_form"), {"task": "t2v", "preset": preset}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_expert_choice_is_offered_on_a_two_expert_model_only(owner_client, a14b_offered,
                                                                 a14b_lora, tiny_lora):
    page = _form(owner_client, A14B)
    assert f'value="{a14b_lora.pk}">lightning low<' in page
    for index in (1, 2, 3):
        assert f'name="lora_expert_{index}"' in page
    assert '<option value="both" selected>Both experts</option>' in page
    assert '<option value="high_noise">High-noise expert only</option>' in page
    assert '<option value="low_noise">Low-noise expert only</option>' in page
    assert "This model has two experts" in page
    page = _form(owner_client, "tiny")
    assert f'value="{tiny_lora.pk}">paper<' in page and 'name="lora_1"' in page
    assert "lora_expert_" not in page and "This model has two experts" not in page


def test_the_chosen_expert_is_stored_read_back_and_kept_by_a_retry(owner_client, owner,
                                                                   a14b_offered, a14b_lora):
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        **A14B_FORM, lora_1=str(a14b_lora.pk), lora_strength_1="0.9",
        lora_expert_1="low_noise"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(owner=owner)
    row = JobInput.objects.get(job=job, role=InputRole.LORA)
    assert (row.upload_id, row.strength, row.expert) == (a14b_lora.pk, 0.9, "low_noise")
    assert lifecycle.spec_of(job).loras == (LoraUse(a14b_lora.pk, 0.9, "low_noise"),)

    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    job.refresh_from_db()
    again = lifecycle.retry(job)
    assert again.inputs.get(role=InputRole.LORA).expert == "low_noise"


def test_a_lora_without_an_expert_goes_into_both(owner_client, owner, a14b_offered, a14b_lora):
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        **A14B_FORM, lora_1=str(a14b_lora.pk)))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert JobInput.objects.get(role=InputRole.LORA).expert == "both"


def test_an_expert_sent_for_a_model_of_one_transformer_is_refused(owner_client, tiny_lora):
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        lora_1=str(tiny_lora.pk), lora_expert_1="high_noise"), **HTMX)
    assert response.status_code == 422
    assert "A LoRA cannot go into one expert of Tiny random model" in response.content.decode()
    for form in (A14B_FORM, {}):  # the choice is shown with its message, offered or not
        response = csrf_post(owner_client, reverse("submit_job"), form_data(
            **form, lora_1=str(tiny_lora.pk), lora_expert_1="middle"), **HTMX)
        assert response.status_code == 422
        assert "Choose both experts, the high-noise one or the low-noise one." in (
            response.content.decode())
    assert not Job.objects.exists()


def test_a_remix_picks_the_recipes_expert_again(owner_client, owner, a14b_offered, a14b_lora):
    video = make_video(owner)
    video.recipe = {**video.recipe, "preset": A14B, "width": 1280, "height": 720,
                    "num_frames": 81, "loras": [{"name": "lightning low", "strength": 0.6,
                                                 "id": str(a14b_lora.pk),
                                                 "expert": "low_noise"}]}
    video.save()
    page = owner_client.get(reverse("studio") + f"?remix={video.id}").content.decode()
    assert f'<option value="{a14b_lora.pk}" selected>lightning low</option>' in page
    assert '<option value="low_noise" selected>Low-noise expert only</option>' in page
    assert 'name="lora_strength_1" value="0.6"' in page


# --- To the worker ----------------------------------------------------------------------------


def test_the_workers_request_from_the_stored_job_names_the_expert(owner, a14b_offered,
                                                                  a14b_lora):
    job = lifecycle.submit(owner, _a14b_spec(a14b_lora, "high_noise"))
    request = lifecycle.spec_of(job).to_request(load_media(job))  # as worker.execution does
    (weights,) = request.loras
    assert (weights.key, weights.expert, weights.name) == (
        str(a14b_lora.pk), "high_noise", "lightning low")
    assert Path(weights.path).read_bytes() == a14b_lora.upload.file.open("rb").read()
    assert request.lora_recipe() == [{"name": "lightning low", "strength": 1.0,
                                      "id": str(a14b_lora.pk), "expert": "high_noise"}]


@pytest.fixture
def tiny_a14b(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch, media_root: Path):
    """A tiny Wan 2.2 A14B checkpoint this process's worker runs on the CPU."""
    install_tiny_a14b(A14B, offline_model_store, monkeypatch)
    yield
    PIPELINES.clear()  # the patched preset's pipeline is not kept for other tests


def _lora_tensors(module: torch.nn.Module) -> int:
    return sum(".lora_A." in name for name, _ in module.named_parameters())


@pytest.mark.django_db(transaction=True)
def test_a_low_noise_lora_chosen_in_the_studio_runs_in_the_low_noise_expert_only(
        owner_client, owner, tiny_a14b):
    lora = accept_lora(owner, SimpleUploadedFile("low.safetensors", lora_bytes(A14B, seed=5)),
                       name="lightning low", purpose="style")
    assert A14B in lora.fits
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        preset=A14B, size=f"{SIDE}x{SIDE}", num_frames="5", steps="2", guidance="4.0",
        seed="11", lora_1=str(lora.pk), lora_strength_1="0.8", lora_expert_1="low_noise"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(owner=owner)

    assert execution.execute(job.id, f"test-{uuid.uuid4().hex[:6]}") == JobStatus.SUCCEEDED
    pipeline = PIPELINES.get_loaded(A14B).pipeline
    assert _lora_tensors(pipeline.transformer_2) > 0  # the low-noise expert's slots
    assert _lora_tensors(pipeline.transformer) == 0  # the high-noise one never had any
    video = Video.objects.get(job=job)
    assert video.recipe["loras"] == [{"name": "lightning low", "strength": 0.8,
                                      "id": str(lora.pk), "expert": "low_noise"}]
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "lightning low at 0.8 (low-noise expert)" in page
