"""Upscaling through a real Celery worker on the CPU, on the embedded default (the demo
upscaler, no weights, no Hub): the video page's button makes a new video at twice the size,
every frame kept at the source's rate, its sound kept (checked with PyAV), in the lineage of
both videos."""

from __future__ import annotations

from typing import Any

import av
import pytest
from django.urls import reverse

from generation.models import Job, JobStatus, Video
from tests.conftest import csrf_post
from tests.editing.media import numbered_frames
from tests.processes import Service, wait_for
from tests.sound.media import dominant_hz, heard
from tests.sound.sources import RATE, pitch_of_second, sound_video

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def upscale(client: Any, owner: Any, worker: Service, video: Video, factor: int) -> Video:
    client.get(reverse("video_detail", args=[video.id]))
    response = csrf_post(client, reverse("upscale_video", args=[video.id]),
                         {"factor": str(factor)})
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = Job.objects.get(owner=owner, kind="upscale", inputs__video=video,
                          params__factor=factor)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 240, f"upscale {factor}x", interval=0.2)
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log()[-3000:])
    return Video.objects.get(job=job)


def test_an_upscale_doubles_every_frame_and_keeps_the_sound(owner_client, owner, worker):
    # Two seconds at 8 fps, 440 Hz then 660 Hz.
    source = sound_video(owner, numbered_frames(16, 96, 64), fps=8)
    made = upscale(owner_client, owner, worker, source, 2)

    assert (made.width, made.height, made.frame_count, made.fps) == (192, 128, 16, 8)
    assert made.kind == "upscale" and made.preset == "demo-swin2sr"
    with made.file.open("rb") as stream, av.open(stream) as container:
        picture = container.streams.video[0]
        assert (picture.codec_context.width, picture.codec_context.height) == (192, 128)
        assert sum(1 for _ in container.decode(video=0)) == 16
    with made.file.open("rb") as stream:
        got = heard(stream)
    assert got is not None and (got.codec, got.sample_rate) == ("aac", RATE)
    assert got.duration_s == pytest.approx(2.0, abs=1 / 8)
    assert made.recipe["audio"]["origin"] == "source" and made.recipe["factor"] == 2
    for second in (0, 1):  # in step: each second sounds as the source's did
        window = got.samples[:, second * RATE + 2000:(second + 1) * RATE - 2000]
        assert dominant_hz(window, RATE) == pytest.approx(pitch_of_second(second), abs=8)

    page = owner_client.get(reverse("video_detail", args=[made.id])).content.decode()
    assert "Upscaled 2× from" in page and reverse("video_detail", args=[source.id]) in page
    assert "?remix=" not in page  # its source is what a remix starts from
    studio = owner_client.get(reverse("studio")).content.decode()
    assert "192×128 · 16 frames · upscaled 2×" in studio
    source_page = owner_client.get(reverse("video_detail", args=[source.id])).content.decode()
    assert "Upscaled into" in source_page
