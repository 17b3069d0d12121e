"""Wan 2.2 A14B and HunyuanVideo 1.5, text and image to video, end to end: the studio's form, a
real Celery worker on the CPU loading each tiny checkpoint from the models folder through the
production loader, and a video of the size and length asked for that plays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job, JobStatus, Video
from tests.conftest import csrf_post
from tests.i2v.helpers import i2v_data, png_bytes
from tests.jobs import form_data
from tests.processes import Service, start_worker, wait_for
from worker.catalogue import build_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Each preset at its smallest offered size, the fewest frames and steps.
JOBS = [
    ("wan2.2-t2v-a14b", "t2v", "832x480"),
    ("wan2.2-i2v-a14b", "i2v", "832x480"),
    ("hunyuanvideo1.5-t2v-480p", "t2v", "848x480"),
    ("hunyuanvideo1.5-i2v-480p", "i2v", "848x480"),
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for preset_id, _, _ in JOBS:
        build_pipeline(preset_id, "tiny", seed=0).save_pretrained(folder / preset_id)
    return folder


@pytest.fixture
def worker(checkpoints: Path, models: Path, tmp_path: Path, settings) -> Iterator[Service]:
    settings.MEDIA_ROOT = tmp_path / "media"
    service = start_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(checkpoints),
                           FRAMECRAFT_DEVICE="cpu")
    yield service
    service.stop()


def test_each_new_preset_makes_a_video_on_the_real_worker(owner_client, owner, worker,
                                                          monkeypatch, checkpoints):
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(checkpoints))  # the web tier sees them
    assert owner_client.get(reverse("studio")).status_code == 200  # the CSRF cookie
    jobs = {}
    for preset_id, task, size in JOBS:
        if task == "i2v":
            data = i2v_data(preset_id, size=size, num_frames="5", guidance="3.5",
                            start_file=SimpleUploadedFile("harbour.png", png_bytes((400, 240))))
        else:
            data = form_data(preset=preset_id, size=size, num_frames="5", steps="2",
                             guidance="4.0", seed="3")
        before = set(Job.objects.values_list("id", flat=True))
        response = csrf_post(owner_client, reverse("submit_job"), data)
        assert response.status_code in (200, 302), response.content.decode()[-2000:]
        jobs[preset_id] = Job.objects.exclude(id__in=before).get()

    def finished() -> bool:
        return all(Job.objects.get(pk=job.pk).is_terminal for job in jobs.values())

    wait_for(finished, 600, "every new preset's job")
    for preset_id, task, size in JOBS:
        job = Job.objects.get(pk=jobs[preset_id].pk)
        assert job.status == JobStatus.SUCCEEDED, (preset_id, job.error_message,
                                                   worker.log()[-3000:])
        video = Video.objects.get(job=job)
        width, height = (int(side) for side in size.split("x"))
        with video.file.open("rb") as stream, av.open(stream) as container:
            frames = list(container.decode(video=0))
        assert (len(frames), frames[0].width, frames[0].height) == (5, width, height), preset_id
        assert (job.preset, job.kind) == (preset_id, task)
    assert worker.log().count("loading preset") == len(JOBS)
