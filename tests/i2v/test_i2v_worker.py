"""Image to video end to end: the studio's image form with an uploaded start image, a real
Celery worker on the CPU running a tiny LTX-Video checkpoint (the fastest tiny I2V build
measured: 1.3 s a job, Wan 2.1 I2V 7.3 s) through the production loader, the video's page
with its lineage, and "Continue from the last frame"."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import InputRole, Job, JobInput, JobStatus, Upload, Video
from tests.conftest import csrf_post
from tests.i2v.helpers import i2v_data, png_bytes
from tests.processes import start_worker, wait_for
from worker.catalogue import build_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PRESET = "ltx-video"


@pytest.fixture
def worker(models: Path, tmp_path: Path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    build_pipeline(PRESET, "tiny", seed=0).save_pretrained(models / PRESET)
    service = start_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models),
                           FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    yield service
    service.stop()


def _frames(video: Video) -> tuple[int, int, int]:
    with video.file.open("rb") as stream, av.open(stream) as container:
        frames = [f for f in container.decode(video=0)]
    return len(frames), frames[0].width, frames[0].height


def test_an_image_becomes_a_video_on_the_real_worker(owner_client, owner, worker):
    assert owner_client.get(reverse("studio")).status_code == 200  # the CSRF cookie
    # A tall image on a landscape size, letterboxed.
    data = i2v_data(PRESET, size="704x480", num_frames="9", fit="pad",
                    start_file=SimpleUploadedFile("harbour.png", png_bytes((300, 400))))
    response = csrf_post(owner_client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 180, "the image-to-video job")
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log())
    video = Video.objects.get(job=job)
    assert (video.width, video.height, video.frame_count) == (704, 480, 9)
    assert _frames(video) == (9, 704, 480)
    start = JobInput.objects.get(job=job)
    assert start.role == InputRole.START_IMAGE and start.upload.original_name == "harbour.png"
    assert job.params["fit"] == "pad"

    # The video's page: the start image in its lineage, as a thumbnail of the owner's.
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    thumb = reverse("upload_thumb", args=[start.upload_id])
    assert "Start image" in page and thumb in page
    assert owner_client.get(thumb).status_code == 200

    # Continue from the last frame: an upload of the owner's, the image form opened with it.
    answer = csrf_post(owner_client, reverse("continue_from_last_frame", args=[video.id]))
    assert answer.status_code == 302
    frame = Upload.objects.exclude(pk=start.upload_id).get(owner=owner)
    assert (frame.kind, frame.width, frame.height) == ("image", 704, 480)
    assert frame.metadata["frame_of"] == str(video.id)
    studio = owner_client.get(answer["Location"]).content.decode()
    assert 'value="i2v" checked' in studio and f'value="{frame.id}"' in studio
    assert '<option value="704x480" selected>' in studio  # the frame's own shape


def test_keyframes_steer_a_video_on_the_real_worker(owner_client, owner, worker):
    from tests.i2v.helpers import image_upload

    start = image_upload(owner, size=(300, 200))
    middle = image_upload(owner, size=(300, 200), colour=(0, 0, 220))
    last = image_upload(owner, size=(200, 300), colour=(0, 220, 0))
    data = i2v_data(PRESET, size="704x480", num_frames="17", start_image=str(start.id))
    data.update(keyframe_image=[str(last.id), str(middle.id)], keyframe_frame=["16", "8"],
                keyframe_strength=["1", "0.6"])
    response = csrf_post(owner_client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 240, "the keyframed job")
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log())
    video = Video.objects.get(job=job)
    assert _frames(video) == (17, 704, 480)
    inputs = list(JobInput.objects.filter(job=job).order_by("role", "position")
                  .values_list("role", "position", "upload_id"))
    assert inputs == [(InputRole.KEYFRAME, 0, last.id), (InputRole.KEYFRAME, 1, middle.id),
                      (InputRole.START_IMAGE, 0, start.id)]
    assert video.recipe["keyframes"] == [[16, 1.0], [8, 0.6]]

    # The lineage lists them by time, as thumbnails.
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    early, late = page.index("At frame 8 (0.32 s), strength 0.6"), page.index(
        "At frame 16 (0.64 s), strength 1.0")
    assert early < late
    assert reverse("upload_thumb", args=[middle.id]) in page
    assert reverse("upload_thumb", args=[last.id]) in page
