"""The studio's queue controls over HTTP: a person reorders, moves, pauses and resumes their
own queue (CSRF checked, htmx answered with the job list); a stranger gets 404."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation import queue
from generation.models import Job
from tests.conftest import csrf_post
from tests.jobs import make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _waiting(owner, count: int) -> list[Job]:
    start = timezone.now() - timedelta(minutes=5)
    jobs = [make_job(owner, prompt=f"job {n}") for n in range(count)]
    for n, job in enumerate(jobs):
        Job.objects.filter(pk=job.pk).update(created_at=start + timedelta(seconds=n))
    return jobs


def _order(owner) -> list:
    return list(queue.waiting(owner).values_list("pk", flat=True))


def _cards(page: str, jobs: list[Job]) -> list[Job]:
    """The jobs in the order their cards appear on the page."""
    return sorted(jobs, key=lambda job: page.index(f'id="job-{job.id}"'))


def test_the_studio_lists_waiting_jobs_in_the_persons_order_with_move_buttons(owner_client,
                                                                              owner):
    j1, j2, j3 = _waiting(owner, 3)
    queue.reorder(owner, [j2.id, j3.id, j1.id])
    page = owner_client.get(reverse("studio")).content.decode()
    assert _cards(page, [j1, j2, j3]) == [j2, j3, j1]
    assert page.count('data-focus-key="top-') == 2  # not on the first
    assert page.count('data-focus-key="down-') == 2  # not on the last
    assert "Pause my queue" in page and "Sortable-1.15.7.min.js" in page


def test_drag_and_drop_posts_the_new_order(owner_client, owner):
    j1, j2, j3 = _waiting(owner, 3)
    response = csrf_post(owner_client, reverse("reorder_queue"),
                         {"order": [str(j3.id), str(j1.id), str(j2.id)]}, **HTMX)
    assert response.status_code == 200
    assert _order(owner) == [j3.pk, j1.pk, j2.pk]
    assert _cards(response.content.decode(), [j1, j2, j3]) == [j3, j1, j2]


def test_move_to_top_and_down(owner_client, owner):
    j1, j2, j3 = _waiting(owner, 3)
    csrf_post(owner_client, reverse("move_job", args=[j3.id]), {"where": "top"}, **HTMX)
    assert _order(owner) == [j3.pk, j1.pk, j2.pk]
    response = csrf_post(owner_client, reverse("move_job", args=[j3.id]), {"where": "down"})
    assert response.status_code == 302  # without htmx: back to the studio
    assert _order(owner) == [j1.pk, j3.pk, j2.pk]
    bad = csrf_post(owner_client, reverse("move_job", args=[j3.id]), {"where": "sideways"},
                    **HTMX)
    assert bad.status_code == 422 and b"top, up, down, bottom" in bad.content
    assert _order(owner) == [j1.pk, j3.pk, j2.pk]


def test_pause_and_resume_from_the_studio(owner_client, owner):
    _waiting(owner, 1)
    page = csrf_post(owner_client, reverse("pause_queue"), **HTMX).content.decode()
    assert queue.member(owner).paused
    assert "Your queue is paused." in page and "Resume my queue" in page
    assert "Paused · starts after you resume your queue" in page
    page = csrf_post(owner_client, reverse("resume_queue"), **HTMX).content.decode()
    assert not queue.member(owner).paused
    assert "number 1 in the queue" in page


def test_the_studio_says_when_the_queue_is_paused_for_maintenance(owner_client, owner):
    _waiting(owner, 1)
    queue.hold(reason="new GPUs")
    page = owner_client.get(reverse("studio")).content.decode()
    assert "The queue is paused for maintenance." in page and "(new GPUs)" in page
    queue.release()
    assert "paused for maintenance" not in owner_client.get(reverse("studio")).content.decode()


def test_a_stranger_cannot_reorder_move_or_see_anothers_jobs(stranger_client, owner, stranger):
    j1, j2 = _waiting(owner, 2)
    theirs, = _waiting(stranger, 1)
    assert csrf_post(stranger_client, reverse("move_job", args=[j2.id]), {"where": "top"},
                     **HTMX).status_code == 404
    assert csrf_post(stranger_client, reverse("reorder_queue"),
                     {"order": [str(j2.id), str(theirs.id)]}, **HTMX).status_code == 404
    assert _order(owner) == [j1.pk, j2.pk]
    assert Job.objects.get(pk=j2.pk).queue_rank is None
    # A person's pause is their own: the stranger's pause leaves the owner's queue running.
    csrf_post(stranger_client, reverse("pause_queue"), **HTMX)
    assert queue.member(stranger).paused and not queue.member(owner).paused


def test_queue_controls_need_csrf_and_a_sign_in(owner, owner_client):
    j1, j2 = _waiting(owner, 2)
    url = reverse("move_job", args=[j2.id])
    assert owner_client.post(url, {"where": "top"}).status_code == 403  # no CSRF token
    assert owner_client.post(reverse("pause_queue")).status_code == 403
    assert _order(owner) == [j1.pk, j2.pk] and not queue.member(owner).paused
    anonymous = Client()
    assert anonymous.post(reverse("pause_queue")).status_code == 302  # to sign in
