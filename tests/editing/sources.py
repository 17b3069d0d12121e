"""Source videos with real files for the editing tests, and a worker serving both the job
queue and the models queue (previews and mask tracking run there)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile

from generation.models import Job, JobStatus, Upload, UploadKind, Video
from tests.editing.conftest import moving_square
from tests.processes import Service, service_env, wait_for
from worker.runtime.encode import encode_mp4


def source_video(owner: Any, frames: int = 12, fps: int = 16, width: int = 160,
                 height: int = 96) -> Video:
    """A gallery video of `owner`: a square moving right, really encoded."""
    clip = moving_square(frames, height, width)
    job = Job.objects.create(owner=owner, preset="tiny", status=JobStatus.SUCCEEDED,
                             params={"prompt": "a square", "width": width, "height": height,
                                     "num_frames": frames})
    video = Video(owner=owner, job=job, prompt="a moving square", width=width, height=height,
                  fps=fps, frame_count=frames, duration_s=frames / fps, size_bytes=0,
                  recipe={"prompt": "a moving square"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        info = encode_mp4(clip, fps, path, metadata={})
        video.size_bytes = info.size_bytes
        with path.open("rb") as stream:
            video.file.save("v.mp4", File(stream), save=False)
    video.poster.save("p.jpg", ContentFile(b"\xff\xd8\xff"), save=False)
    video.save()
    return video


def image_upload(owner: Any) -> Upload:
    upload = Upload(owner=owner, kind=UploadKind.IMAGE, width=8, height=8)
    upload.file.save("x.png", ContentFile(b"\x89PNG"), save=False)
    upload.save()
    return upload


def start_studio_worker(log_path: Path, **env: str) -> Service:
    """A Celery worker on the job queue and the models queue, on the CPU."""
    queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_MODELS_QUEUE}"
    worker = Service(
        [sys.executable, "-m", "celery", "-A", "webapp", "worker", "--pool", "prefork",
         "--concurrency", "1", "--queues", queues, "--hostname", f"edit-{os.getpid()}@%h",
         "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        service_env(FRAMECRAFT_DEVICE="cpu", FRAMECRAFT_PROGRESS_INTERVAL="0.1", **env),
        log_path)
    wait_for(lambda: "ready." in worker.log() or worker.process.poll() is not None, 60,
             "the worker to start")
    assert worker.process.poll() is None, worker.log()
    return worker
