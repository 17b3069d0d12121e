"""Videos with real (tiny) files on the test storage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from generation.models import Job, JobStatus, Video

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
