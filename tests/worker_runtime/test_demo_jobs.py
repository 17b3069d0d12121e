"""Every studio task on the embedded default: an empty models folder, no Hub, a real Celery
worker on the CPU (job and models queues), and only the built-in demo models. Each task is
submitted through the studio's own endpoints and must land a playable video of the size and
length asked for; mask tracking, background removal, depth and pose run through their real
code paths on the demo helpers.

The worker is shared by the module (its pipeline cache stays warm, as `make run`'s does); each
job's wall time is printed (`pytest -s`) as what a person waits on a small CPU."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import (
    ControlPreview,
    CutoutStatus,
    InputRole,
    Job,
    JobInput,
    JobStatus,
    MaskTracking,
    Subject,
    Video,
)
from generation.sound import has_sound
from tests.conftest import csrf_post
from tests.editing.conftest import gallery_video, mask_upload
from tests.editing.media import numbered_frames, png_bytes, rect_mask
from tests.editing.sources import source_video, start_studio_worker
from tests.i2v.helpers import image_upload
from tests.i2v.helpers import png_bytes as image_png
from tests.processes import Service, wait_for
from worker.catalogue.helpers import CONTROL_KINDS

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
COMMON = {"prompt": "a lighthouse in the rain", "negative_prompt": "", "steps": "2",
          "guidance": "5.0", "seed": "5"}


@pytest.fixture(scope="module")
def demo_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    """The worker of a fresh machine: nothing installed, nowhere to download from."""
    root = tmp_path_factory.mktemp("demo")
    (root / "models").mkdir()
    service = start_studio_worker(
        root / "worker.log", FRAMECRAFT_MODELS_DIR=str(root / "models"),
        FRAMECRAFT_MEDIA_ROOT=str(root / "media"), HF_HOME=str(root / "hf"),
        HF_HUB_OFFLINE="1", FRAMECRAFT_DEMO_MODELS="1")
    yield service, root
    service.stop()


@pytest.fixture
def worker(demo_worker: tuple[Service, Path], settings, monkeypatch) -> Service:
    service, root = demo_worker
    settings.MEDIA_ROOT = root / "media"
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "1")
    return service


def _wait(done: Callable[[], bool], what: str, worker: Service, timeout: float = 240) -> float:
    started = time.perf_counter()
    wait_for(done, timeout, what, interval=0.2)
    took = time.perf_counter() - started
    print(f"\n{what}: {took:.1f} s")
    return took


def run_job(client, owner, worker: Service, data: dict[str, Any], page: str = "studio"
            ) -> Video:
    """Submit through the studio's form endpoint and wait for the worker's video."""
    client.get(reverse(page))  # the CSRF cookie
    before = set(Job.objects.filter(owner=owner).values_list("id", flat=True))
    response = csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()[-3000:]
    job = Job.objects.filter(owner=owner).exclude(id__in=before).get()

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    _wait(finished, f"{data['task']} on {data['preset']}", worker)
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    return Video.objects.get(job=job)


def played(video: Video) -> tuple[int, int, int]:
    """(frames, width, height) as decoded from the file: the video plays."""
    with video.file.open("rb") as stream, av.open(stream) as container:
        frames = list(container.decode(video=0))
    assert video.frame_count == len(frames)
    return len(frames), frames[0].width, frames[0].height


def test_image_to_video_with_an_end_frame_and_with_keyframes(owner_client, owner, worker):
    start = SimpleUploadedFile("start.png", image_png((200, 120)))
    video = run_job(owner_client, owner, worker, {
        **COMMON, "task": "i2v", "preset": "demo-i2v", "size": "160x96", "num_frames": "9",
        "fit": "crop", "start_file": start})
    assert played(video) == (9, 160, 96)

    first, last = image_upload(owner), image_upload(owner, colour=(0, 200, 0))
    video = run_job(owner_client, owner, worker, {
        **COMMON, "task": "i2v", "preset": "demo-flf2v", "size": "128x128", "num_frames": "9",
        "fit": "crop", "start_image": str(first.id), "end_image": str(last.id)})
    assert played(video) == (9, 128, 128)
    assert JobInput.objects.filter(job=video.job, role=InputRole.END_IMAGE).exists()

    middle = image_upload(owner, colour=(0, 0, 200))
    video = run_job(owner_client, owner, worker, {
        **COMMON, "task": "i2v", "preset": "demo-ltx", "size": "160x96", "num_frames": "17",
        "guidance": "3.0", "fit": "crop", "start_image": str(first.id),
        "keyframe_image": [str(middle.id), str(last.id)], "keyframe_frame": ["8", "16"],
        "keyframe_strength": ["1", "0.5"]})
    assert played(video) == (17, 160, 96)
    assert video.recipe["keyframes"] == [[8, 1.0], [16, 0.5]]


def test_ltx2_demo_takes_keyframes_and_keeps_its_sound(owner_client, owner, worker):
    first, middle = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    last = image_upload(owner, colour=(0, 200, 0))
    video = run_job(owner_client, owner, worker, {
        **COMMON, "task": "i2v", "preset": "demo-ltx2", "size": "160x96", "num_frames": "17",
        "guidance": "3.0", "fit": "crop", "start_image": str(first.id), "sound": "1",
        "keyframe_image": [str(middle.id), str(last.id)], "keyframe_frame": ["8", "16"],
        "keyframe_strength": ["1", "0.5"]})
    assert played(video) == (17, 160, 96)
    assert video.recipe["keyframes"] == [[8, 1.0], [16, 0.5]]
    assert [(i.role, i.position) for i in JobInput.objects.filter(
        job=video.job, role=InputRole.KEYFRAME).order_by("position")] == [
        (InputRole.KEYFRAME, 0), (InputRole.KEYFRAME, 1)]
    assert has_sound(video) and video.recipe["audio"]["origin"] == "model"


def edit(source: Video, task: str, **fields: Any) -> dict[str, Any]:
    return {**COMMON, "task": task, "preset": "demo-vace", "size": "160x96",
            "num_frames": "5", "source_video": str(source.id), "trim_start": "",
            "trim_end": "", "mode": "change", "grow": "0", "feather": "0",
            "anchor": "centre", "context_frames": "5", "join": "1", "strength": "0.6",
            **fields}


def test_masked_edit_reframe_and_extend(owner_client, owner, worker):
    # Two seconds at 8 fps, the demo models' rate: 16 frames.
    source = gallery_video(owner, numbered_frames(16), fps=8)
    mask = SimpleUploadedFile("mask.png", png_bytes(rect_mask(96, 64, (24, 16, 72, 48))),
                              "image/png")
    edited = run_job(owner_client, owner, worker, edit(source, "edit", mask_file=mask),
                     page="edit_studio")
    assert played(edited) == (5, 160, 96)

    reframed = run_job(owner_client, owner, worker,
                       edit(source, "reframe", size="96x160", anchor="end"), "edit_studio")
    assert played(reframed) == (5, 96, 160)

    # The 16-frame clip, then 9 frames of which the first 5 redraw its last 5.
    extended = run_job(owner_client, owner, worker,
                       edit(source, "extend", num_frames="9"), "edit_studio")
    assert played(extended) == (20, 160, 96)
    # LTX's demo extends too: 17 made, 9 of them the context.
    extended = run_job(owner_client, owner, worker, edit(
        source, "extend", preset="demo-ltx", num_frames="17", context_frames="9",
        guidance="3.0"), "edit_studio")
    assert played(extended) == (24, 160, 96)


def test_follow_a_subject_tracks_a_mask_for_a_masked_edit(owner_client, owner, worker):
    source = gallery_video(owner, numbered_frames(16), fps=8)
    owner_client.get(reverse("edit_studio"))
    answer = csrf_post(owner_client, reverse("track_mask"), {
        "source_video": str(source.id), "clicks": json.dumps([[0, 40, 30, True]]),
        "preset": "demo-vace", "start_s": "0", "num_frames": "5"})
    assert answer.status_code == 202, answer.content.decode()
    tracking = MaskTracking.objects.get(owner=owner)

    def tracked() -> bool:
        tracking.refresh_from_db()
        return tracking.status in ("succeeded", "failed")

    _wait(tracked, "mask tracking on demo-sam2", worker, 120)
    assert tracking.status == "succeeded", (tracking.message, worker.log()[-3000:])
    state = owner_client.get(reverse("mask_tracking", args=[tracking.id])).json()
    assert state["mask_upload"] == str(tracking.mask_id)

    edited = run_job(owner_client, owner, worker,
                     edit(source, "edit", mask=str(tracking.mask_id)), "edit_studio")
    assert played(edited) == (5, 160, 96)
    mask_row = JobInput.objects.get(job=edited.job, role=InputRole.MASK)
    assert mask_row.upload_id == tracking.mask_id


@pytest.mark.parametrize("control", list(CONTROL_KINDS))
def test_motion_transfer_with_every_control_track(owner_client, owner, worker, control):
    source = source_video(owner)  # 160 x 96, 12 frames at 16 fps: 6 at the demo's 8 fps
    data = {**COMMON, "task": "control", "preset": "demo-vace", "size": "160x96",
            "num_frames": "5", "control": control, "conditioning_scale": "1.0",
            "start_s": "0", "source_video": str(source.id)}
    owner_client.get(reverse("studio"))
    # The control track's preview, drawn by the models queue (depth and pose: demo helpers).
    answer = csrf_post(owner_client, reverse("control_preview"), data,
                       HTTP_HX_REQUEST="true")
    assert answer.status_code == 200, answer.content.decode()
    preview = ControlPreview.objects.get(owner=owner)

    def drawn() -> bool:
        preview.refresh_from_db()
        return preview.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    _wait(drawn, f"the {control} preview", worker, 120)
    assert preview.status == JobStatus.SUCCEEDED, (preview.message, worker.log()[-3000:])

    video = run_job(owner_client, owner, worker, data)
    assert played(video) == (5, 160, 96)
    assert video.recipe["control"] == control


def test_a_subjects_background_is_removed_and_it_is_placed_and_swapped_in(
        owner_client, owner, worker):
    owner_client.get(reverse("subjects"))
    response = csrf_post(owner_client, reverse("new_subject"), {
        "name": "Rex", "kind": "object",
        "photo_files": [SimpleUploadedFile("rex.png", image_png((160, 96)))]})
    assert response.status_code == 302, response.content.decode()
    photo = Subject.objects.get(owner=owner).photos.get()

    def cut_out() -> bool:
        photo.refresh_from_db()
        return photo.cutout_status != CutoutStatus.PENDING

    _wait(cut_out, "background removal on demo-segformer", worker, 120)
    assert photo.cutout_status == CutoutStatus.READY, (photo.cutout_message,
                                                       worker.log()[-3000:])
    assert photo.chosen == photo.cutout

    placed = run_job(owner_client, owner, worker, {
        **COMMON, "task": "personalize", "preset": "demo-vace", "size": "128x128",
        "num_frames": "9", "prompt": "@Rex runs along a beach"})
    assert played(placed) == (9, 128, 128)
    reference = JobInput.objects.get(job=placed.job, role=InputRole.REFERENCE)
    assert reference.upload_id == photo.cutout_id

    clip = gallery_video(owner, numbered_frames(16), fps=8)
    mask = mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40)))
    swapped = run_job(owner_client, owner, worker, {
        **COMMON, "task": "swap", "preset": "demo-vace", "size": "160x96",
        "num_frames": "5", "prompt": "@Rex walks in", "source_video": str(clip.id),
        "mask": str(mask.id)})
    assert played(swapped) == (5, 160, 96)
    assert JobInput.objects.filter(job=swapped.job, role=InputRole.REFERENCE).exists()
