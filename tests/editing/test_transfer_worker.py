"""Motion transfer end to end: the studio's "Transfer motion" form with a gallery video, a real
Celery worker on the CPU running a tiny Wan VACE checkpoint and a tiny Depth Anything through
the production loaders; the control track's preview from the models queue; the video's page
with where its motion came from."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from django.urls import reverse

from generation.models import ControlPreview, InputRole, Job, JobInput, JobStatus, Video
from tests.conftest import csrf_post
from tests.editing.sources import source_video, start_studio_worker
from tests.processes import wait_for
from worker.catalogue import build_pipeline
from worker.catalogue.helpers import save_helper

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PRESET = "wan2.1-vace-1.3b"


@pytest.fixture
def worker(models: Path, tmp_path: Path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    build_pipeline(PRESET, "tiny", seed=0).save_pretrained(models / PRESET)
    save_helper("depth-anything-v2-small", models / "depth-anything-v2-small")
    service = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    yield service
    service.stop()


def _form(source: Video, **overrides: str) -> dict[str, str]:
    data = {"task": "control", "preset": PRESET, "prompt": "a glass cube in the rain",
            "negative_prompt": "", "size": "832x480", "num_frames": "5", "steps": "2",
            "guidance": "1.0", "seed": "3", "control": "depth", "conditioning_scale": "0.6",
            "start_s": "0.125", "source_video": str(source.id)}
    data.update(overrides)
    return data


def test_a_video_keeps_its_motion_with_a_new_look_on_the_real_worker(owner_client, owner,
                                                                    worker):
    source = source_video(owner)
    page = owner_client.get(reverse("studio") + f"?task=control&source_video={source.id}")
    text = page.content.decode()
    assert 'value="control" checked' in text and "Motion from: <strong>" in text

    # The control track's preview, drawn by the models queue before any GPU time.
    answer = csrf_post(owner_client, reverse("control_preview"), _form(source),
                       HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    preview = ControlPreview.objects.get(owner=owner)
    assert (preview.control, preview.num_frames, preview.fps, preview.start_s) == (
        "depth", 5, 16, 0.125)

    def drawn() -> bool:
        preview.refresh_from_db()
        return preview.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(drawn, 120, "the control preview")
    assert preview.status == JobStatus.SUCCEEDED, (preview.message, worker.log())
    card = owner_client.get(reverse("control_preview_card", args=[preview.id])).content
    assert reverse("control_preview_file", args=[preview.id]).encode() in card
    with preview.file.open("rb") as stream, av.open(stream) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 5 and frames[0].width == 160  # the source's shape, small
    # Asked again for the same clip: the same preview, nothing new to draw.
    csrf_post(owner_client, reverse("control_preview"), _form(source), HTTP_HX_REQUEST="true")
    assert ControlPreview.objects.count() == 1

    response = csrf_post(owner_client, reverse("submit_job"), _form(source),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner, kind="control")

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 400, "the motion transfer job")
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log())
    video = Video.objects.get(job=job)
    assert (video.width, video.height, video.frame_count) == (832, 480, 5)
    with video.file.open("rb") as stream, av.open(stream) as container:
        assert sum(1 for _ in container.decode(video=0)) == 5
    row = JobInput.objects.get(job=job)
    assert (row.role, row.video_id) == (InputRole.SOURCE_VIDEO, source.id)
    assert video.recipe["control"] == "depth" and video.recipe["conditioning_scale"] == 0.6
    assert video.recipe["start_s"] == 0.125 and video.recipe["kind"] == "control"

    detail = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "Motion from" in detail and "Depth track, followed at 0.6" in detail
    assert reverse("video_detail", args=[source.id]) in detail
