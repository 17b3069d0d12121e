"""How long a job takes, as the studio says it: measured on the kind of worker that runs it
(from the finished jobs of its model there), "estimating…" before anything was measured, and
never "on an H200" unless an H200 runs it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.fleet import Estimator, WorkerKind, predicted_denoise_s
from generation.models import Job, JobStatus, WorkerState
from tests.jobs import TINY_PARAMS, make_job
from tests.videos import make_video

pytestmark = pytest.mark.django_db

FRAMES = 17  # the tiny model's default length, as the form offers it


def cpu_worker(name: str = "cpu@host:1", loaded: tuple[str, ...] = ()) -> WorkerState:
    return WorkerState.objects.create(name=name, gpu_name="", gpu_total_gb=0.0,
                                      loaded=list(loaded), seen_at=timezone.now())


def finished_on(owner, gpu: str, *, steps: int = 8, denoise_s: float = 4.0,
                load_s: float = 12.0, encode_s: float = 0.5, decode_s: float = 1.0,
                store_s: float = 0.5, ago: timedelta = timedelta(minutes=1)) -> Job:
    """A tiny job that finished on a worker with this GPU ("" for a CPU), with the timings the
    worker records."""
    video = make_video(owner)
    job = video.job
    job.params = {**TINY_PARAMS, "steps": steps, "speed": "quality", "num_frames": FRAMES}
    job.timings = {"load_s": load_s, "encode_s": encode_s, "denoise_s": denoise_s,
                   "decode_s": decode_s, "store_s": store_s}
    job.finished_at = timezone.now() - ago
    job.save()
    video.recipe = {**video.recipe, "gpu": gpu, "worker": "w"}
    video.save()
    return job


def _labels(page: str) -> dict[str, str]:
    return dict(re.findall(r'value="(quality|balanced|preview)"[^>]*>\s*([^<]+)', page))


def test_the_speed_labels_on_a_cpu_only_fleet_never_say_h200(owner_client, owner):
    cpu_worker()
    page = owner_client.get(reverse("studio")).content.decode()
    assert "H200" not in page
    assert all("estimating…" in label for label in _labels(page).values())

    finished_on(owner, "", steps=8, denoise_s=4.0)
    labels = _labels(owner_client.get(reverse("studio")).content.decode())
    assert labels["quality"].startswith("Quality · about 4 s on CPU")
    assert "H200" not in " ".join(labels.values())


def test_the_catalogue_figure_stands_only_for_the_gpu_it_was_measured_on(owner):
    params = {**TINY_PARAMS, "steps": 50}
    estimator = Estimator()
    catalogue = predicted_denoise_s("tiny", params)
    assert estimator.denoise_s("tiny", params, WorkerKind("NVIDIA H200")) == catalogue
    assert estimator.denoise_s("tiny", params, WorkerKind("NVIDIA A10G")) is None
    assert estimator.denoise_s("tiny", params, WorkerKind("")) is None
    assert estimator.denoise_s("tiny", params, None) is None


def test_measurements_are_kept_per_kind_of_worker(owner):
    finished_on(owner, "", steps=8, denoise_s=8.0)
    finished_on(owner, "NVIDIA L4", steps=8, denoise_s=2.0)
    params = {**TINY_PARAMS, "steps": 8, "num_frames": FRAMES}
    estimator = Estimator()
    assert estimator.denoise_s("tiny", params, WorkerKind("")) == pytest.approx(8.0)
    assert estimator.denoise_s("tiny", params, WorkerKind("NVIDIA L4")) == pytest.approx(2.0)
    # Twice the steps, twice the denoising: the catalogue's shape, the worker's speed.
    assert estimator.denoise_s("tiny", {**params, "steps": 16}, WorkerKind("")) \
        == pytest.approx(16.0)


def test_the_median_of_the_latest_jobs_is_used(owner):
    for denoise in (3.0, 4.0, 100.0):  # one outlier (a busy machine) does not move it
        finished_on(owner, "", denoise_s=denoise)
    assert Estimator().denoise_s("tiny", {**TINY_PARAMS, "steps": 8, "num_frames": FRAMES},
                                WorkerKind("")) \
        == pytest.approx(4.0)


def test_a_waiting_job_takes_its_whole_run_on_the_worker_that_will_run_it(owner_client, owner):
    cpu_worker()
    waiting = make_job(owner, steps=8, num_frames=FRAMES)
    page = owner_client.get(reverse("studio")).content.decode()
    assert "time: estimating…" in page

    # Load 12 s (cold), encode 0.5 s, denoise 4 s, decode and store 1.5 s: 18 s, not "1 s".
    finished_on(owner, "", steps=8, denoise_s=4.0)
    assert Estimator().run_s(waiting) == pytest.approx(18.0)
    assert "takes about 18 s" in owner_client.get(reverse("studio")).content.decode()


def test_loading_the_model_counts_down_the_measured_load_then_says_estimating(owner):
    worker = cpu_worker()
    finished_on(owner, "", steps=8, denoise_s=4.0)
    job = make_job(owner, status=JobStatus.RUNNING, steps=8, num_frames=FRAMES)
    Job.objects.filter(pk=job.pk).update(worker=worker.name,
                                         started_at=timezone.now() - timedelta(seconds=4))
    job.refresh_from_db()
    # 12.5 s of load and encode, 4 s of it gone; then 4 s of steps and 1.5 s to finish.
    assert Estimator().left_s(job) == pytest.approx(14.0, abs=0.2)

    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(seconds=16))
    job.refresh_from_db()
    assert Estimator().left_s(job) is None  # past what was measured: no wrong figure


def test_a_warm_model_loads_in_no_time(owner):
    worker = cpu_worker(loaded=("tiny",))
    finished_on(owner, "", steps=8, denoise_s=4.0)
    job = make_job(owner, status=JobStatus.RUNNING, steps=8, num_frames=FRAMES)
    Job.objects.filter(pk=job.pk).update(worker=worker.name, started_at=timezone.now())
    job.refresh_from_db()
    assert Estimator().left_s(job) == pytest.approx(0.5 + 4.0 + 1.5, abs=0.2)


def test_while_denoising_the_jobs_own_steps_time_the_rest(owner):
    worker = cpu_worker()
    finished_on(owner, "", steps=8, denoise_s=4.0)
    job = make_job(owner, status=JobStatus.RUNNING, steps=8, num_frames=FRAMES)
    Job.objects.filter(pk=job.pk).update(
        worker=worker.name, started_at=timezone.now(), progress_step=2, progress_total=8,
        timings={"denoise_elapsed_s": 3.0})
    job.refresh_from_db()
    assert Estimator().left_s(job) == pytest.approx(3.0 / 2 * 6 + 1.5)


def test_a_running_card_says_estimating_without_a_measurement(owner_client, owner):
    worker = cpu_worker()
    job = make_job(owner, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(worker=worker.name, started_at=timezone.now())
    page = owner_client.get(reverse("studio")).content.decode()
    assert "Loading the model…" in page and "estimating…" in page
    assert "left" not in page.split("Loading the model…", 1)[1].split("</p>", 1)[0]


def test_a_waiting_job_skips_the_load_where_a_worker_holds_its_model_warm(owner):
    cpu_worker(loaded=("tiny",))
    finished_on(owner, "", steps=8, denoise_s=4.0)
    waiting = make_job(owner, steps=8, num_frames=FRAMES)
    assert Estimator().run_s(waiting) == pytest.approx(0.5 + 4.0 + 1.5)
