"""Builders for jobs and videos in tests."""

from __future__ import annotations

from typing import Any

from generation import lifecycle
from generation.models import Job, JobStatus
from generation.queries import with_queue_positions
from generation.specs import TextToVideo

TINY_PARAMS = {
    "prompt": "a red fox running through snow", "negative_prompt": "", "width": 128,
    "height": 128, "num_frames": 5, "steps": 2, "guidance": 5.0, "seed": 1234,
}


def make_job(owner: Any, status: str = JobStatus.QUEUED, **params: Any) -> Job:
    return Job.objects.create(owner=owner, preset=params.pop("preset", "tiny"),
                              gpus=params.pop("gpus", 1), params={**TINY_PARAMS, **params},
                              status=status)


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {"preset": "tiny", "prompt": "a lighthouse at dusk", "negative_prompt": "",
            "size": "128x128", "num_frames": "17", "steps": "8", "guidance": "5.0", "seed": ""}
    data.update(overrides)
    return data


def tiny_spec(**overrides: Any) -> TextToVideo:
    params = {**TINY_PARAMS, **overrides}
    return TextToVideo(preset=params.pop("preset", "tiny"), **params)


def submit_tiny(owner: Any, **overrides: Any) -> Job:
    """Submit a tiny text-to-video job through the lifecycle, as the studio form does."""
    return lifecycle.submit(owner, tiny_spec(**overrides))


def queue_position(job: Job) -> int | None:
    return with_queue_positions([Job.objects.get(pk=job.pk)])[0].queue_position
