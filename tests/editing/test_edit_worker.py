"""Every way to edit a video, end to end: the edit studio's form, the real Celery worker on the
CPU running tiny checkpoints of the real pipelines through the production loader (Wan VACE,
Wan 2.1 video-to-video, CogVideoX, LTX-Video's condition pipeline), and the video that lands in
the gallery: its length, its size, and its link to the source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import InputRole, Job, JobInput, JobStatus, Video
from tests.conftest import csrf_post
from tests.editing.conftest import VACE, gallery_video
from tests.editing.media import numbered_frames, png_bytes, rect_mask
from tests.editing.test_edit_forms import edit_data
from tests.processes import start_worker, wait_for
from worker.catalogue import build_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _worker(models: Path, tmp_path: Path, presets: tuple[str, ...]):
    for preset in presets:
        build_pipeline(preset, "tiny", seed=0).save_pretrained(models / preset)
    return start_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models),
                        FRAMECRAFT_DEVICE="cpu")


def run_edit(client, owner, worker, data: dict[str, Any], timeout: float = 400) -> Video:
    client.get(reverse("edit_studio"))
    before = set(Job.objects.filter(owner=owner).values_list("id", flat=True))
    response = csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.filter(owner=owner).exclude(id__in=before).get()

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, timeout, f"the {job.kind} job on {job.preset}", interval=0.5)
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    return Video.objects.get(job=job)


def decoded(video: Video) -> np.ndarray:
    with video.file.open("rb") as stream, av.open(stream) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def assert_made_from(client, video: Video, source: Video, words: str) -> None:
    assert JobInput.objects.get(job=video.job, role=InputRole.SOURCE_VIDEO).video == source
    page = client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert words in page and reverse("video_detail", args=[source.id]) in page


@pytest.fixture
def vace_worker(models: Path, tmp_path: Path, media_root):
    service = _worker(models, tmp_path, (VACE,))
    yield service
    service.stop()


@pytest.fixture
def v2v_worker(models: Path, tmp_path: Path, media_root):
    service = _worker(models, tmp_path, ("ltx-video", "cogvideox-5b"))
    yield service
    service.stop()


def test_masked_edit_reframe_and_extension_with_vace(owner_client, owner, vace_worker):
    # Two seconds at 8 fps; VACE plays at 16 fps, so the clip is 32 frames.
    source = gallery_video(owner, numbered_frames(16), fps=8)
    box = (24, 16, 72, 48)
    mask = SimpleUploadedFile("mask.png", png_bytes(rect_mask(96, 64, box)), "image/png")
    edited = run_edit(owner_client, owner, vace_worker, edit_data(
        source, mask_file=mask, num_frames="5", feather="0"))
    assert (edited.frame_count, edited.width, edited.height) == (5, 832, 480)
    assert_made_from(owner_client, edited, source, "Edited from")
    frames = decoded(edited).astype(np.float32)
    # Outside the marked area the source is kept (frame k of the clip shows source frame k/2).
    expected = np.array([8 * (k // 2) for k in range(5)], np.float32)[:, None, None]
    outside = np.abs(frames[:, :, :150].mean(axis=3) - expected).mean()
    inside = np.abs(frames[:, 200:280, 300:500].mean(axis=3) - expected).mean()
    assert outside < 4 and inside > 3 * outside + 2, (outside, inside)
    mask_row = JobInput.objects.get(job=edited.job, role=InputRole.MASK)
    page = owner_client.get(reverse("video_detail", args=[edited.id])).content.decode()
    assert reverse("upload_thumb", args=[mask_row.upload_id]) in page  # the mask's preview

    reframed = run_edit(owner_client, owner, vace_worker, edit_data(
        source, task="reframe", size="480x832", anchor="end", num_frames="5"))
    assert (reframed.frame_count, reframed.width, reframed.height) == (5, 480, 832)
    assert_made_from(owner_client, reframed, source, "Edited from")

    extended = run_edit(owner_client, owner, vace_worker, edit_data(
        source, task="extend", num_frames="9", context_frames="5", join="1"))
    # The 32-frame clip, then 9 frames of which the first 5 redraw its last 5.
    assert (extended.frame_count, extended.width, extended.height) == (36, 832, 480)
    assert_made_from(owner_client, extended, source, "Extended from")


def test_restyles_and_a_chain_of_extensions(owner_client, owner, v2v_worker):
    source = gallery_video(owner, numbered_frames(16, width=96, height=64), fps=8)
    wan = run_edit(owner_client, owner, v2v_worker, edit_data(
        source, task="v2v", preset="tiny", size="128x128", num_frames="9", strength="0.5"))
    assert (wan.frame_count, wan.width, wan.height) == (9, 128, 128)
    assert_made_from(owner_client, wan, source, "Edited from")
    assert "<dt>Strength</dt><dd>0.5</dd>" in owner_client.get(
        reverse("video_detail", args=[wan.id])).content.decode()

    ltx = run_edit(owner_client, owner, v2v_worker, edit_data(
        source, task="v2v", preset="ltx-video", size="704x480", num_frames="9",
        guidance="3.0"))
    assert (ltx.frame_count, ltx.width, ltx.height) == (9, 704, 480)

    cog = run_edit(owner_client, owner, v2v_worker, edit_data(
        source, task="v2v", preset="cogvideox-5b", size="720x480", num_frames="9",
        guidance="6.0"))
    assert (cog.frame_count, cog.width, cog.height) == (9, 720, 480)
    assert_made_from(owner_client, cog, source, "Edited from")

    # LTX plays at 25 fps: the 2 s source is 50 frames; 17 made, 9 of them the context.
    first = run_edit(owner_client, owner, v2v_worker, edit_data(
        source, task="extend", preset="ltx-video", size="704x480", num_frames="17",
        context_frames="9", guidance="3.0"))
    assert (first.frame_count, first.width, first.height) == (58, 704, 480)
    second = run_edit(owner_client, owner, v2v_worker, edit_data(
        first, task="extend", preset="ltx-video", size="704x480", num_frames="17",
        context_frames="9", guidance="3.0"))
    assert second.frame_count == 66
    # Each part in the lineage: the second extension came from the first, the first from
    # the source.
    assert_made_from(owner_client, second, first, "Extended from")
    assert_made_from(owner_client, first, source, "Extended from")
    # Kept separate, the continuation alone: 17 made less the 9 of context.
    alone = run_edit(owner_client, owner, v2v_worker, edit_data(
        source, task="extend", preset="ltx-video", size="704x480", num_frames="17",
        context_frames="9", guidance="3.0", join="0", trim_end="1.0"))
    assert alone.frame_count == 8
