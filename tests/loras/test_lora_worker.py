"""A LoRA job end to end: two LoRAs uploaded on My LoRAs, chosen in the studio with their
strengths, run by a real Celery worker on the CPU (tiny model), named in the recipe and on the
video's page, and still named there after one of them is deleted."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job, JobStatus, Lora, Video
from tests.conftest import csrf_post
from tests.jobs import form_data
from tests.loras.files import lora_bytes
from tests.processes import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(models: Path, tmp_path: Path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    service = start_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models),
                           FRAMECRAFT_DEVICE="cpu")
    yield service
    service.stop()


def _upload(client, name: str, seed: int) -> Lora:
    response = csrf_post(client, reverse("loras"), {
        "file": SimpleUploadedFile(f"{name}.safetensors", lora_bytes("tiny", seed=seed)),
        "name": name, "purpose": "style", "base": "tiny"})
    assert response.status_code == 302
    return Lora.objects.get(name=name)


def test_a_job_with_two_loras_runs_on_the_real_worker(owner_client, owner, worker):
    paper, ink = _upload(owner_client, "paper cut", 1), _upload(owner_client, "ink wash", 2)
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox in the snow", size="128x128", num_frames="5", steps="2", seed="77",
        lora_1=str(paper.pk), lora_strength_1="0.8", lora_2=str(ink.pk),
        lora_strength_2="1.5"))
    assert response.status_code == 302, response.content.decode()[:3000]
    job = Job.objects.get(owner=owner)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 180, "the LoRA job")
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    video = Video.objects.get(job=job)
    named = [{"name": "paper cut", "strength": 0.8, "id": str(paper.pk)},
             {"name": "ink wash", "strength": 1.5, "id": str(ink.pk)}]
    assert video.recipe["loras"] == named
    with video.file.open("rb") as stream, av.open(stream) as container:
        embedded = json.loads(container.metadata["comment"])
    assert embedded["loras"] == named  # the MP4's copy of the recipe too

    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "paper cut at 0.8, ink wash at 1.5" in page

    # Renamed, then deleted: the video keeps the names the job ran with.
    csrf_post(owner_client, reverse("rename_lora", args=[paper.pk]), {"name": "renamed"})
    assert csrf_post(owner_client, reverse("delete_lora", args=[ink.pk])).status_code == 302
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "paper cut at 0.8, ink wash at 1.5" in page
    assert Video.objects.filter(pk=video.pk).exists()
