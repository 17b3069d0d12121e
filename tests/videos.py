"""Videos with real (tiny) files on the test storage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation.models import Job, JobStatus, Video
from tests.conftest import csrf_post

FAKE_MP4 = bytes(range(256)) * 40  # 10 KiB of known bytes for range checks


def make_video(owner: Any, prompt: str = "a lighthouse at dusk", age: timedelta | None = None,
               with_job: bool = True, **fields: Any) -> Video:
    job = None
    if with_job:
        job = Job.objects.create(owner=owner, preset="tiny", status=JobStatus.SUCCEEDED,
                                 params={"prompt": prompt, "seed": 1, "width": 128,
                                         "height": 128, "num_frames": 5, "steps": 2,
                                         "guidance": 5.0, "negative_prompt": ""})
    fields.setdefault("preset", "tiny")
    video = Video(owner=owner, job=job, prompt=prompt, width=128, height=128,
                  fps=8, frame_count=5, duration_s=0.625, size_bytes=len(FAKE_MP4),
                  recipe={"prompt": prompt, "preset": "tiny", "seed": 1, "steps": 2,
                          "guidance": 5.0, "width": 128, "height": 128, "num_frames": 5},
                  created_at=timezone.now() - (age or timedelta()), **fields)
    video.file.save("v.mp4", ContentFile(FAKE_MP4), save=False)
    video.poster.save("p.jpg", ContentFile(b"\xff\xd8\xff poster"), save=False)
    video.save()
    return video


# The signed-out views of a shared link: its page, its video and its poster.
SHARED_VIEWS = ("shared_video", "shared_file", "shared_poster")


def share(client: Client, video: Video, form: dict[str, str], **extra: Any) -> HttpResponse:
    """Post the video's sharing form as `client` (its owner); the video is reloaded after."""
    response = csrf_post(client, reverse("share_video", args=[video.id]), form, **extra)
    video.refresh_from_db()
    return response


def revoke_a_link(client: Client, video: Video) -> str:
    """Share the video unlisted, then revoke the link, as its owner: the dead link's slug."""
    share(client, video, {"visibility": "unlisted"})
    slug = video.share_slug
    assert slug
    share(client, video, {"action": "revoke"})
    return slug


def assert_partial(response: HttpResponse, first: int, last: int) -> None:
    """A 206 for bytes `first` to `last` of FAKE_MP4 (GET or HEAD: the same headers)."""
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(FAKE_MP4)}"
    assert response["Content-Length"] == str(last - first + 1)
