"""Videos with sound through a real Celery worker on the CPU, on the embedded default (no
weights, no Hub: the built-in demo models): LTX-2's demo makes a video with sound from a prompt
and from an image; edits and extensions of a video with sound keep its sound in step. Each file
is checked with PyAV: an AAC stream at the model's rate, as long as the picture to a frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job, JobStatus, Video
from generation.sound import has_sound
from tests.conftest import csrf_post
from tests.editing.media import numbered_frames, png_bytes, rect_mask
from tests.i2v.helpers import png_bytes as image_png
from tests.processes import Service, wait_for
from tests.sound.media import Heard, dominant_hz, heard
from tests.sound.sources import RATE, pitch_of_second, sound_video

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
COMMON = {"prompt": "a brass band on a pier", "negative_prompt": "", "steps": "2",
          "guidance": "3.0", "seed": "9"}


def run_job(client: Any, owner: Any, worker: Service, data: dict[str, Any],
            page: str = "studio") -> Video:
    client.get(reverse(page))
    before = set(Job.objects.filter(owner=owner).values_list("id", flat=True))
    response = csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()[-3000:]
    job = Job.objects.filter(owner=owner).exclude(id__in=before).get()

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 240, f"{data['task']} on {data['preset']}", interval=0.2)
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    return Video.objects.get(job=job)


def heard_in(video: Video) -> Heard | None:
    with video.file.open("rb") as stream:
        return heard(stream)


def assert_plays_with_sound(video: Video, rate: int) -> Heard:
    got = heard_in(video)
    assert got is not None, "the file has no audio stream"
    assert (got.codec, got.sample_rate) == ("aac", rate)
    assert got.video_duration_s == pytest.approx(video.frame_count / video.fps, abs=1e-3)
    assert abs(got.duration_s - got.video_duration_s) <= 1 / video.fps
    assert video.recipe["audio"]["sample_rate"] == rate and has_sound(video)
    return got


def test_ltx2_demo_makes_a_video_with_sound_from_a_prompt_and_from_an_image(
        owner_client, owner, worker):
    made = run_job(owner_client, owner, worker, {
        **COMMON, "task": "t2v", "preset": "demo-ltx2", "size": "160x96", "num_frames": "17",
        "sound": "1"})
    got = assert_plays_with_sound(made, 16000)
    assert made.recipe["audio"]["origin"] == "model" and made.recipe["sound"] is True
    assert np.abs(got.samples).max() > 0

    start = SimpleUploadedFile("start.png", image_png((200, 120)))
    animated = run_job(owner_client, owner, worker, {
        **COMMON, "task": "i2v", "preset": "demo-ltx2", "size": "160x96", "num_frames": "9",
        "fit": "crop", "start_file": start})  # no sound field sent: the sound is kept
    assert_plays_with_sound(animated, 16000)

    silent = run_job(owner_client, owner, worker, {
        **COMMON, "task": "t2v", "preset": "demo-ltx2", "size": "128x128", "num_frames": "9",
        "sound": "0"})
    assert heard_in(silent) is None and not has_sound(silent)
    assert silent.recipe["sound"] is False and "audio" not in silent.recipe


def _edit(source: Video, task: str, **fields: Any) -> dict[str, Any]:
    return {**COMMON, "task": task, "preset": "demo-vace", "size": "160x96",
            "num_frames": "5", "source_video": str(source.id), "trim_start": "",
            "trim_end": "", "mode": "change", "grow": "0", "feather": "0",
            "anchor": "centre", "context_frames": "5", "join": "1", "sound": "1", **fields}


def test_an_edit_keeps_the_clip_s_sound_in_step(owner_client, owner, worker):
    # Three seconds at 8 fps with a tone a pitch a second; the edit takes 5 frames from 1 s.
    source = sound_video(owner, numbered_frames(24, 160, 96), fps=8)
    mask = SimpleUploadedFile("mask.png", png_bytes(rect_mask(160, 96, (40, 24, 120, 72))),
                              "image/png")
    edited = run_job(owner_client, owner, worker,
                     _edit(source, "edit", mask_file=mask, trim_start="1.0"), "edit_studio")
    got = assert_plays_with_sound(edited, RATE)
    assert edited.recipe["audio"]["origin"] == "source"
    assert dominant_hz(got.samples[:, 1500:13500], RATE) == pytest.approx(
        pitch_of_second(1), abs=8)
    page = owner_client.get(reverse("video_detail", args=[edited.id])).content.decode()
    assert "AAC, 24 kHz, stereo, 0.6 s · the source's, in step with the clip" in page


def test_an_extension_keeps_or_drops_the_source_s_sound(owner_client, owner, worker):
    source = sound_video(owner, numbered_frames(16, 160, 96), fps=8)  # 2 s: 440 Hz, then 660 Hz
    # A silent model continues it: the sound runs to the cut, then silence.
    kept = run_job(owner_client, owner, worker, _edit(source, "extend", num_frames="9"),
                   "edit_studio")
    got = assert_plays_with_sound(kept, RATE)
    assert kept.frame_count == 20 and kept.recipe["audio"]["origin"] == "source, then silence"
    cut = 16 / 8  # the clip's 16 frames (2 s), then 4 new ones
    assert dominant_hz(got.samples[:, RATE + 2000:RATE + 14000], RATE) == pytest.approx(
        pitch_of_second(1), abs=8)
    after = got.samples[:, round(cut * RATE) + 2048:]
    assert after.size and np.abs(after).max() < 1e-3

    dropped = run_job(owner_client, owner, worker,
                      _edit(source, "extend", num_frames="9", sound="0"), "edit_studio")
    assert heard_in(dropped) is None and dropped.frame_count == 20
