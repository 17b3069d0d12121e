"""A Balanced and a Preview job on the worker, in-process with the tiny model: the recipe in the
database and in the MP4 says what the mode did, skipped steps included; the progress bar
counts the steps the mode really runs."""

import json

import av
import pytest

from generation.models import JobStatus, Video
from tests.jobs import make_job
from worker import execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_balanced_job_records_the_steps_it_reused(owner):
    job = make_job(owner, steps=8, num_frames=5, seed=3, speed="balanced")
    assert execution.execute(job.id, "test-worker") == JobStatus.SUCCEEDED
    video = Video.objects.get(job=job)
    acceleration = video.recipe["acceleration"]
    assert video.recipe["speed"] == "balanced"
    assert acceleration["mode"] == "balanced" and acceleration["step_cache"] == "first_block"
    assert 0 < acceleration["skipped_steps"] < 8
    with av.open(video.file.path) as container:
        assert json.loads(container.metadata["comment"])["acceleration"] == acceleration


def test_a_preview_job_runs_the_distilled_steps_and_says_so(owner):
    job = make_job(owner, steps=8, num_frames=5, seed=3, speed="preview")
    assert execution.execute(job.id, "test-worker") == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.progress_step, job.progress_total) == (4, 4)
    recipe = Video.objects.get(job=job).recipe
    assert recipe["steps"] == 8  # what was asked, kept for Render in quality
    assert recipe["acceleration"]["preset"] == "tiny-preview"
    assert recipe["acceleration"]["steps"] == 4
