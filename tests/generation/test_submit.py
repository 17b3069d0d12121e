import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from generation import lifecycle
from generation.models import Job, JobStatus
from tests.conftest import csrf_post
from tests.jobs import form_data, make_job, queue_position, submit_tiny

HTMX = {"HTTP_HX_REQUEST": "true"}


def _queue_length() -> int:
    return redis.Redis.from_url(settings.REDIS_URL).llen(settings.CELERY_TASK_DEFAULT_QUEUE)



@pytest.fixture
def studio_client(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200  # sets the CSRF cookie
    return owner_client


def test_the_form_offers_only_installed_text_to_video_models(studio_client):
    page = studio_client.get(reverse("studio")).content.decode()
    assert 'value="tiny"' in page
    assert "Tiny random model" in page
    assert "wan2.1-t2v-14b" not in page  # no weights on this machine


def test_submitting_creates_a_queued_job_with_a_random_seed_shown_later(studio_client, owner):
    response = csrf_post(studio_client, reverse("submit_job"), form_data(), **HTMX)
    assert response.status_code == 200
    job = Job.objects.get(owner=owner)
    assert job.status == JobStatus.QUEUED
    assert job.params["prompt"] == "a lighthouse at dusk"
    assert (job.params["width"], job.params["height"], job.params["num_frames"]) == (128, 128, 17)
    assert isinstance(job.params["seed"], int)
    assert f'id="job-{job.id}"' in response.content.decode()


def test_a_given_seed_is_kept(studio_client, owner):
    csrf_post(studio_client, reverse("submit_job"), form_data(seed="42"), **HTMX)
    assert Job.objects.get(owner=owner).params["seed"] == 42


def test_the_form_takes_seeds_up_to_the_catalogues_one_limit(studio_client, owner):
    from worker.catalogue import MAX_SEED

    assert MAX_SEED == 2**32 - 1
    csrf_post(studio_client, reverse("submit_job"), form_data(seed=str(2**32)), **HTMX)
    assert not Job.objects.filter(owner=owner).exists()
    csrf_post(studio_client, reverse("submit_job"), form_data(seed=str(MAX_SEED)), **HTMX)
    assert Job.objects.get(owner=owner).params["seed"] == MAX_SEED


def test_submission_enqueues_once_the_transaction_commits(
        owner, django_capture_on_commit_callbacks):
    before = _queue_length()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit_tiny(owner)
        assert _queue_length() == before, "nothing may be sent before the commit"
    for callback in callbacks:
        callback()
    assert _queue_length() == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_request_enqueues_nothing(owner):
    before = _queue_length()
    with pytest.raises(RuntimeError), transaction.atomic():
        submit_tiny(owner)
        raise RuntimeError("the request failed after submitting")
    assert not Job.objects.exists()
    assert _queue_length() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prompt", "", "Write what the video should show."),
        ("num_frames", "18", "Select a valid choice"),
        ("size", "4000x4000", "Select a valid choice"),
        ("steps", "500", "Steps must be between 1 and"),
        ("guidance", "99", "Guidance must be between 0 and"),
        ("steps", "many", "Enter a whole number"),
        ("seed", "-1", "greater than or equal to 0"),
    ],
)
def test_invalid_values_get_inline_messages(studio_client, owner, field, value, message):
    response = csrf_post(studio_client, reverse("submit_job"), form_data(**{field: value}), **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_an_unknown_model_is_refused(studio_client):
    response = csrf_post(studio_client, reverse("submit_job"), form_data(preset="nope"), **HTMX)
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()


def test_the_per_user_cap_gives_a_clear_message(studio_client, owner):
    for _ in range(owner.active_job_limit):
        make_job(owner)
    make_job(owner, status=JobStatus.SUCCEEDED)  # finished jobs do not count
    response = csrf_post(studio_client, reverse("submit_job"), form_data(), **HTMX)
    assert response.status_code == 422
    assert "the most you may have at once" in response.content.decode()
    assert Job.objects.filter(owner=owner).count() == owner.active_job_limit + 1


def test_a_post_without_csrf_token_is_refused(studio_client, owner):
    response = studio_client.post(reverse("submit_job"), form_data(), **HTMX)
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_changing_the_model_rerenders_the_form_with_its_defaults(studio_client):
    response = studio_client.get(reverse("generation_form"),
                                 {"preset": "tiny", "prompt": "kept prompt"}, **HTMX)
    page = response.content.decode()
    assert "kept prompt" in page
    assert 'value="8"' in page  # the tiny preset's default steps


def test_the_chosen_model_is_selected_and_its_abilities_and_limits_shown(studio_client, models):
    from worker.catalogue import build_pipeline

    build_pipeline("tiny").save_pretrained(models / "wan2.1-t2v-1.3b")  # installed, tiny inside
    page = studio_client.get(reverse("generation_form"), {"preset": "wan2.1-t2v-1.3b"},
                             **HTMX).content.decode()
    assert '<option value="wan2.1-t2v-1.3b" selected>' in page
    assert '<option value="tiny">' in page
    assert "small text-to-video model" in page  # its description
    assert '<span class="badge">text to video</span>' in page
    assert "832×480 or 480×832; up to 81 frames (5.1 s at 16 fps)" in page


def test_cancelling_a_queued_job_cancels_it_at_once(studio_client, owner):
    job = make_job(owner)
    response = csrf_post(studio_client, reverse("cancel_job", args=[job.id]), **HTMX)
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.status_sequence == 1
    assert "Retry" in response.content.decode()


def test_cancelling_a_running_job_raises_its_flag(studio_client, owner):
    job = make_job(owner, status=JobStatus.RUNNING)
    csrf_post(studio_client, reverse("cancel_job", args=[job.id]), **HTMX)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.cancel_requested


def test_a_finished_job_stays_finished_when_cancelled(studio_client, owner):
    job = make_job(owner, status=JobStatus.SUCCEEDED)
    csrf_post(studio_client, reverse("cancel_job", args=[job.id]), **HTMX)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert not job.cancel_requested


def test_retry_makes_a_new_job_with_the_same_recipe(studio_client, owner):
    job = make_job(owner, status=JobStatus.FAILED)
    response = csrf_post(studio_client, reverse("retry_job", args=[job.id]), **HTMX)
    assert response.status_code == 200
    retry = Job.objects.get(retry_of=job)
    # A job stored before speed modes and sound existed is retried at the defaults: Quality,
    # no fp8, with sound (where its model makes any).
    assert retry.params == {**job.params, "speed": "quality", "fp8": False, "sound": True}
    assert retry.status == JobStatus.QUEUED


def test_a_successful_job_cannot_be_retried(studio_client, owner):
    job = make_job(owner, status=JobStatus.SUCCEEDED)
    csrf_post(studio_client, reverse("retry_job", args=[job.id]), **HTMX)
    assert not Job.objects.filter(retry_of=job).exists()


def test_terminal_states_are_never_overwritten(owner):
    job = make_job(owner, status=JobStatus.CANCELLED)
    assert not lifecycle._transition(job.id, (JobStatus.QUEUED, JobStatus.RUNNING),
                                      JobStatus.SUCCEEDED)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_queue_position_counts_the_jobs_ahead(owner, stranger):
    first = make_job(stranger)
    second = make_job(owner)
    assert queue_position(first) == 1
    assert queue_position(second) == 2
    lifecycle._transition(first.id, (JobStatus.QUEUED,), JobStatus.RUNNING)
    assert queue_position(second) == 1


def test_submitting_too_fast_is_limited_with_a_clear_message(studio_client, owner, settings):
    settings.RATELIMIT_ENABLE = True
    settings.FRAMECRAFT_SUBMIT_RATE = "2/m"
    responses = [csrf_post(studio_client, reverse("submit_job"), form_data(), **HTMX)
                 for _ in range(3)]
    limited = [r for r in responses if r.status_code == 422]
    assert limited, "the third submission within a minute must be refused"
    assert "submitting very fast" in limited[-1].content.decode()
    assert Job.objects.filter(owner=owner).count() == 3 - len(limited)


def test_variations_make_that_many_jobs_on_consecutive_seeds(studio_client, owner):
    response = csrf_post(studio_client, reverse("submit_job"),
                         form_data(seed="41", variations="3"), **HTMX)
    assert response.status_code == 200
    jobs = Job.objects.filter(owner=owner).order_by("created_at")
    assert [job.params["seed"] for job in jobs] == [41, 42, 43]
    assert {job.params["prompt"] for job in jobs} == {"a lighthouse at dusk"}
    assert 'name="variations"' in response.content.decode()


def test_variations_with_a_random_seed_run_on_consecutive_seeds_from_it(studio_client, owner):
    csrf_post(studio_client, reverse("submit_job"), form_data(variations="2"), **HTMX)
    first, second = (job.params["seed"] for job in Job.objects.filter(owner=owner)
                     .order_by("created_at"))
    assert second == (first + 1) % 2**32


def test_variations_over_the_job_limit_make_no_job_at_all(studio_client, owner):
    owner.max_active_jobs = 3
    owner.save()
    make_job(owner)
    response = csrf_post(studio_client, reverse("submit_job"), form_data(variations="4"),
                         **HTMX)
    assert response.status_code == 422
    assert "ask for 2 or fewer" in response.content.decode()
    assert Job.objects.filter(owner=owner).count() == 1
    assert csrf_post(studio_client, reverse("submit_job"), form_data(variations="2"),
                     **HTMX).status_code == 200
    assert Job.objects.filter(owner=owner).active().count() == 3


def test_a_variation_refused_halfway_leaves_none_of_them(owner):
    """All or none: the second job failing (here its spec; in a race, the job limit another
    tab just reached) takes the first one back."""
    from dataclasses import replace

    from generation import views
    from generation.specs import SpecError
    from tests.jobs import tiny_spec

    fine = tiny_spec(prompt="variation one")
    with pytest.raises(SpecError):
        views._submit_all(owner, [fine, replace(fine, seed=-1)], remix_of=None)
    assert not Job.objects.filter(owner=owner).exists()
