"""Add sound through a real Celery worker on the CPU, on the embedded default (the demo Stable
Audio 3, no weights, no Hub): a silent video gets an AAC track as long as it plays, every
frame kept (checked with PyAV); a video with sound keeps its own with the new one under it;
both in the source's lineage."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest
from django.urls import reverse

from generation.models import Job, JobStatus, Video
from tests.conftest import csrf_post
from tests.editing.conftest import gallery_video
from tests.editing.media import numbered_frames
from tests.processes import Service, wait_for
from tests.sound.media import dominant_hz, heard
from tests.sound.sources import RATE, pitch_of_second, sound_video

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def add_sound(client: Any, owner: Any, worker: Service, video: Video, **fields: str) -> Video:
    client.get(reverse("video_detail", args=[video.id]))
    response = csrf_post(client, reverse("add_sound", args=[video.id]), fields)
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = Job.objects.get(owner=owner, kind="soundtrack", inputs__video=video)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 240, "add sound", interval=0.2)
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    return Video.objects.get(job=job)


def decoded(video: Video) -> np.ndarray:
    with video.file.open("rb") as stream, av.open(stream) as container:
        return np.stack([frame.to_ndarray(format="rgb24")
                         for frame in container.decode(video=0)])


def test_a_silent_video_gets_a_sound_as_long_as_it_plays_every_frame_kept(
        owner_client, owner, worker):
    source = gallery_video(owner, numbered_frames(13, 96, 64), fps=8, prompt="a harbour")
    made = add_sound(owner_client, owner, worker, source, prompt="gulls and waves")

    assert (made.width, made.height, made.frame_count, made.fps) == (96, 64, 13, 8)
    assert made.kind == "soundtrack" and made.preset == "demo-stable-audio"
    with made.file.open("rb") as stream:
        got = heard(stream)
    assert got is not None and (got.codec, got.sample_rate, got.channels) == ("aac", 16000, 2)
    assert got.duration_s == pytest.approx(got.video_duration_s, abs=1 / 8)
    assert got.video_duration_s == pytest.approx(13 / 8, abs=1 / 8)
    assert float(np.abs(got.samples).max()) > 0
    # The pictures are the source's: the same frames, re-encoded with the sound.
    before, after = decoded(source), decoded(made)
    assert before.shape == after.shape
    assert float(np.abs(before.astype(int) - after.astype(int)).mean()) < 2.0
    assert made.recipe["audio"]["origin"] == "model" and made.recipe["mix"] == "replace"
    assert made.recipe["audio"]["sample_rate"] == 16000

    page = owner_client.get(reverse("video_detail", args=[made.id])).content.decode()
    assert "Sound added to" in page and reverse("video_detail", args=[source.id]) in page
    assert "AAC, 16 kHz, stereo" in page and "?remix=" not in page
    source_page = owner_client.get(reverse("video_detail", args=[source.id])).content.decode()
    assert "Given sound in" in source_page


def test_under_keeps_the_video_s_own_sound_in_step_with_the_new_one_beneath(
        owner_client, owner, worker):
    source = sound_video(owner, numbered_frames(16, 96, 64), fps=8)  # 440 Hz, then 660 Hz
    made = add_sound(owner_client, owner, worker, source, prompt="a crowd", mix="under",
                     volume="20")
    with made.file.open("rb") as stream:
        got = heard(stream)
    assert got is not None and (got.codec, got.sample_rate) == ("aac", RATE)
    assert got.duration_s == pytest.approx(2.0, abs=1 / 8)
    assert made.recipe["audio"]["origin"] == "source, with the model's under it"
    for second in (0, 1):
        window = got.samples[:, second * RATE + 2000:(second + 1) * RATE - 2000]
        assert dominant_hz(window, RATE) == pytest.approx(pitch_of_second(second), abs=8)
