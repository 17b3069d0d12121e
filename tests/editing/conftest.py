"""Sources for the editing tests: gallery videos with real MP4 files, models to edit with, tiny
random checkpoints of the real helper architectures (saved in the Hub's layout into the test's
models folder), and small synthetic clips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile

from generation.models import Job, JobStatus, Upload, UploadKind, Video
from tests.editing.media import mp4_bytes, numbered_frames, png_bytes
from worker.catalogue.helpers import HELPERS, save_helper

VACE = "wan2.1-vace-1.3b"


def gallery_video(owner: Any, frames: np.ndarray, fps: int, prompt: str = "a quiet harbour"
                  ) -> Video:
    """A finished video of `owner`'s, its file a real H.264 MP4 of `frames`."""
    count, height, width = frames.shape[:3]
    job = Job.objects.create(owner=owner, preset="tiny", status=JobStatus.SUCCEEDED,
                             params={"prompt": prompt, "seed": 1, "width": width,
                                     "height": height, "num_frames": count, "steps": 2,
                                     "guidance": 5.0, "negative_prompt": ""})
    data = mp4_bytes(frames, fps)
    video = Video(owner=owner, job=job, prompt=prompt, width=width, height=height, fps=fps,
                  frame_count=count, duration_s=count / fps, size_bytes=len(data),
                  recipe={"prompt": prompt, "preset": "tiny", "seed": 1})
    video.file.save("v.mp4", ContentFile(data), save=False)
    video.poster.save("p.jpg", ContentFile(b"\xff\xd8\xff poster"), save=False)
    video.save()
    return video


def mask_upload(owner: Any, mask: np.ndarray) -> Upload:
    upload = Upload(owner=owner, kind=UploadKind.IMAGE, width=mask.shape[1],
                    height=mask.shape[0])
    upload.file.save("mask.png", ContentFile(png_bytes(mask)), save=False)
    upload.save()
    return upload


@pytest.fixture
def media_root(tmp_path: Path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def source(owner, media_root) -> Video:
    """Two seconds at 8 fps, 96 x 64: Wan's 16 fps makes 32 frames of it."""
    return gallery_video(owner, numbered_frames(16), fps=8)


@pytest.fixture
def vace_installed(models: Path) -> Path:
    """VACE 1.3B counted as installed (a complete, component-less folder): enough for forms,
    which never load it."""
    folder = models / VACE
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "WanVACEPipeline"}))
    return folder


@pytest.fixture
def helpers(models: Path) -> Path:
    for helper_id in HELPERS:
        save_helper(helper_id, models / helper_id)
    return models


def moving_square(frames: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """A bright square on a dark background moving right by 3 pixels a frame."""
    clip = np.full((frames, height, width, 3), 20, dtype=np.uint8)
    for index in range(frames):
        left = 8 + 3 * index
        clip[index, 16:32, left:left + 16] = (230, 200, 40)
    return clip
