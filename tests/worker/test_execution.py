"""The worker's run of a job, in-process, with the tiny model on the CPU."""

import json
import threading
import time
from datetime import timedelta

import av
import pytest
from django.utils import timezone

from generation import lifecycle
from generation.models import Job, JobStatus, Video
from tests.channel_events import GroupListener
from tests.jobs import make_job
from worker import execution, progress
from worker.runtime.cache import PIPELINES

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events(owner):
    listener = GroupListener.for_user(owner)
    yield listener
    listener.close()


def test_a_job_runs_to_a_playable_video_with_poster_and_recipe(owner, events):
    job = make_job(owner, steps=3, num_frames=9, seed=7)
    assert execution.execute(job.id, "test-worker") == JobStatus.SUCCEEDED

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.attempts, job.progress_step, job.progress_total) == (1, 3, 3)
    assert job.status_sequence == 2  # queued → running → succeeded
    video = Video.objects.get(job=job)
    assert (video.width, video.height, video.frame_count, video.fps) == (128, 128, 9, 8)
    assert video.duration_s > 0
    assert video.recipe["seed"] == 7 and video.recipe["preset"] == "tiny"
    assert video.recipe["vae_tiling"] is False  # the tiny model decodes whole on a CPU
    assert video.file.name.startswith(f"videos/{owner.pk}/{video.id}")

    with av.open(video.file.path) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        recipe = json.loads(container.metadata["comment"])
    # The file carries the same recipe as the database, timings included.
    assert recipe == video.recipe
    assert set(recipe["timings"]) >= {"load_s", "denoise_s", "decode_s"}
    assert {"store_s", "job_s"} <= set(job.timings)
    assert video.poster.open("rb").read(3) == b"\xff\xd8\xff"  # a JPEG

    statuses = [e["status"] for e in events.drain() if e["type"] == "job.updated"]
    assert statuses[0] == "running"
    assert statuses.count("succeeded") == 1
    sequences = [e["status_sequence"] for e in events.received if e["type"] == "job.updated"]
    assert sequences == sorted(sequences)


def test_progress_events_are_throttled(owner, events, settings):
    settings.FRAMECRAFT_PROGRESS_INTERVAL = 60.0
    job = make_job(owner, steps=12)
    execution.execute(job.id, "test-worker")
    progress = [e for e in events.drain() if e["type"] == "job.updated"
                and e["status"] == "running"]
    # The claim, the first step (nothing sent for a minute before it) and the last step.
    assert len(progress) == 3
    assert [e["progress_step"] for e in progress] == [0, 1, 12]


def test_the_model_never_waits_for_progress_writes(owner, monkeypatch, settings):
    settings.FRAMECRAFT_PROGRESS_INTERVAL = 0.0  # every step is written
    written = []
    real_preview = progress.latents_to_preview_jpeg

    def slow_preview(latents):
        time.sleep(0.2)
        written.append(latents.shape)
        return real_preview(latents)

    monkeypatch.setattr(progress, "latents_to_preview_jpeg", slow_preview)
    job = make_job(owner, steps=8)
    assert execution.execute(job.id, "test-worker") == JobStatus.SUCCEEDED
    job.refresh_from_db()
    # Eight steps asked for previews taking 1.6 s to write; the pipeline's callback took
    # none of it, and the job still ended with its last progress and a preview written.
    assert written
    assert job.timings["progress_s"] < 0.2
    assert (job.progress_step, job.progress_total) == (8, 8)


def test_a_running_job_stops_within_one_step_when_cancelled(owner, monkeypatch):
    job = make_job(owner, steps=20)
    seen_steps = []
    original = execution.ProgressReporter.on_step

    def on_step(self, info):
        seen_steps.append(info.step)
        if info.step == 3:
            Job.objects.filter(pk=job.id).update(cancel_requested=True)
        original(self, info)

    monkeypatch.setattr(execution.ProgressReporter, "on_step", on_step)
    assert execution.execute(job.id, "test-worker") == JobStatus.CANCELLED
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert seen_steps == [1, 2, 3]
    assert not Video.objects.exists()


def test_a_worker_leaves_a_job_whose_weights_it_lacks_to_a_worker_that_has_them(
        owner, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    job = make_job(owner, preset="wan2.1-t2v-1.3b", width=832, height=480, num_frames=81)
    tiny = make_job(owner)
    assert execution.execute(job.id, "test-worker") == JobStatus.SUCCEEDED
    job.refresh_from_db()
    tiny.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    assert tiny.status == JobStatus.SUCCEEDED


def test_bad_parameters_fail_the_job_and_the_worker_takes_the_next(owner):
    bad = make_job(owner, num_frames=6)
    good = make_job(owner)
    assert execution.execute(bad.id, "test-worker") == JobStatus.FAILED
    bad.refresh_from_db()
    assert bad.error_code == "bad_parameters"
    assert execution.execute(good.id, "test-worker") == JobStatus.SUCCEEDED


def test_a_job_that_keeps_crashing_fails_after_the_attempt_cap(owner, monkeypatch, settings):
    settings.FRAMECRAFT_MAX_ATTEMPTS = 3

    def crash(request, on_step):
        raise RuntimeError("the GPU driver fell over")

    monkeypatch.setattr(execution, "run_generation", crash)
    monkeypatch.setattr(lifecycle, "send_hint", lambda job_id, preset_id, countdown=None: None)
    monkeypatch.setattr(lifecycle, "RETRY_BACKOFF_S", 0)
    job = make_job(owner)
    assert execution.execute(job.id, "w") == JobStatus.QUEUED
    assert execution.execute(job.id, "w") == JobStatus.QUEUED
    assert execution.execute(job.id, "w") == JobStatus.FAILED
    job.refresh_from_db()
    assert job.attempts == 3
    assert job.error_code == "internal_error"
    assert "the GPU driver fell over" in job.error_message
    assert "gave up after 3 attempts" in job.error_message
    assert execution.execute(job.id, "w") is None  # terminal: never claimed again


def test_two_workers_racing_to_claim_one_job_exactly_one_wins(owner):
    job = make_job(owner)
    barrier = threading.Barrier(8)
    winners = []

    def race(n):
        barrier.wait()
        try:
            if lifecycle.claim(f"worker-{n}") is not None:
                winners.append(n)
        finally:
            from django.db import connection
            connection.close()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.worker == f"worker-{winners[0]}"


def test_a_cancelled_job_is_not_claimed(owner):
    job = make_job(owner, status=JobStatus.CANCELLED)
    assert execution.execute(job.id, "w") is None


def test_the_second_job_of_a_preset_does_not_load_it_again(owner):
    execution.execute(make_job(owner).id, "w")
    loads = PIPELINES.loads
    execution.execute(make_job(owner).id, "w")
    assert PIPELINES.loads == loads
    assert "tiny" in PIPELINES


def test_a_stale_running_job_is_requeued(owner, monkeypatch):
    sent = []
    monkeypatch.setattr(lifecycle, "send_hint",
                        lambda job_id, preset_id, countdown=None: sent.append(job_id))
    stale = make_job(owner, status=JobStatus.RUNNING)
    fresh = make_job(owner, status=JobStatus.RUNNING)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=stale.pk).update(attempts=1, heartbeat_at=an_hour_ago)
    Job.objects.filter(pk=fresh.pk).update(attempts=1, heartbeat_at=timezone.now())
    assert lifecycle.reap_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == JobStatus.QUEUED and stale.error_code == "worker_lost"
    assert fresh.status == JobStatus.RUNNING
    assert sent == [stale.id]


def test_a_stale_job_out_of_attempts_fails(owner, settings):
    settings.FRAMECRAFT_MAX_ATTEMPTS = 2
    job = make_job(owner, status=JobStatus.RUNNING)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(attempts=2, heartbeat_at=an_hour_ago)
    assert lifecycle.reap_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "gave up after 2 attempts" in job.error_message


def test_a_reaped_job_can_no_longer_be_finished_by_its_old_worker(owner, monkeypatch):
    """The old worker was only slow, not dead: its late result must be thrown away."""
    job = make_job(owner)
    original = execution.ProgressReporter.on_step

    def on_step(self, info):
        if info.step == 1:  # the reaper and a new claim happen while this worker is busy
            Job.objects.filter(pk=job.id).update(status=JobStatus.QUEUED)
            assert lifecycle.claim("new-worker") is not None
        original(self, info)

    monkeypatch.setattr(execution.ProgressReporter, "on_step", on_step)
    assert execution.execute(job.id, "old-worker") is None
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "new-worker", 2)
    assert not Video.objects.exists()
