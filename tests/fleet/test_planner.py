"""The planner: how many GPUs of a host each job runs on, from the catalogue's data."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.jobs import submit_tiny
from worker.catalogue import CATALOGUE, get_preset
from worker.catalogue.planning import estimated_s, gpus_for, speedup


@pytest.mark.parametrize(("preset", "size", "frames", "gpus"), [
    ("wan2.1-t2v-14b", (1280, 720), 81, 4),
    ("wan2.1-t2v-14b", (720, 1280), 81, 4),
    ("wan2.1-t2v-14b", (832, 480), 81, 4),
    ("wan2.1-t2v-14b", (832, 480), 41, 2),   # 17,160 tokens: 4 GPUs would hold too little
    ("wan2.1-t2v-14b", (832, 480), 5, 1),
    ("wan2.1-t2v-1.3b", (832, 480), 81, 1),  # a small model's 480p does not pay
    ("ltx-video", (768, 512), 97, 1),        # no parallelism data: always one GPU
    ("tiny", (128, 128), 17, 2),
    ("tiny", (160, 96), 5, 1),
])
def test_the_planner_picks_the_gpu_count_where_it_pays(preset, size, frames, gpus):
    assert gpus_for(get_preset(preset), *size, frames) == gpus


def test_every_size_a_group_runs_splits_evenly_and_its_heads_divide_the_group():
    # Plain Ulysses needs both; a preset that broke it would need Ulysses "anything".
    for preset in CATALOGUE.values():
        if preset.parallelism is None:
            continue
        for width, height in preset.sizes:
            for frames in preset.frame_choices():
                count = gpus_for(preset, width, height, frames)
                assert preset.parallelism.tokens(width, height, frames) % count == 0
                assert preset.parallelism.heads % count == 0, preset.id


def test_the_estimate_shrinks_with_the_gpus_a_job_runs_on():
    preset = get_preset("wan2.1-t2v-14b")
    one = estimated_s(preset, 1280, 720, 81, 50, 1)
    assert one == pytest.approx(50 * preset.memory.step_s)
    assert estimated_s(preset, 1280, 720, 81, 50, 4) == pytest.approx(one / 3.76)
    assert speedup(get_preset("ltx-video"), 4) == 1.0


@pytest.mark.django_db
def test_a_submitted_job_stores_the_planners_count():
    owner = make_user("planner")
    assert submit_tiny(owner, num_frames=17).gpus == 2
    assert submit_tiny(owner, width=160, height=96).gpus == 1


@pytest.mark.django_db
def test_a_running_jobs_eta_before_its_first_step_uses_its_gpu_count():
    from django.utils import timezone

    from generation.formatting import eta_s
    from generation.models import JobStatus, WorkerState
    from tests.jobs import make_job
    from worker.catalogue import get_preset
    from worker.catalogue.speed import eta_s as speed_eta

    # The catalogue's step times were measured on an H200: they stand for one until measured.
    WorkerState.objects.create(name="h200-group", gpu_name="NVIDIA H200", gpu_total_gb=139.8,
                               gpu_count=4, seen_at=timezone.now())
    owner = make_user("eta")
    params = {"preset": "wan2.1-t2v-14b", "width": 1280, "height": 720, "num_frames": 81,
              "steps": 50}
    on_one = make_job(owner, status=JobStatus.RUNNING, gpus=1, **params)
    on_four = make_job(owner, status=JobStatus.RUNNING, gpus=4, **params)
    # Quality mode's measured factor on the preset's step time, then the split's speed-up.
    quality = speed_eta(get_preset("wan2.1-t2v-14b"), "quality", 50, on_one.params["guidance"])
    assert eta_s(on_one) == pytest.approx(quality)
    assert eta_s(on_four) == pytest.approx(quality / 3.76)
    assert eta_s(make_job(owner, gpus=4, **params)) == pytest.approx(quality / 3.76)
