"""The admin's Queue page: weights per person, and the maintenance hold of the whole queue."""

import pytest
from django.test import Client
from django.urls import reverse

from generation import lifecycle, queue
from generation.models import Job
from tests.conftest import csrf_post, make_user
from tests.jobs import make_job

pytestmark = pytest.mark.django_db
PAGE = "admin:generation_queuemember_changelist"
HOLD = "admin:generation_queuemember_hold"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_staff_give_a_person_a_weight_that_the_fair_queue_uses(admin_client, owner, stranger):
    a1, a2, b1 = make_job(owner), make_job(owner), make_job(stranger)
    assert list(Job.objects.fair_queue()) == [a1, b1, a2]
    response = csrf_post(admin_client, reverse("admin:generation_queuemember_add"),
                         {"user": owner.pk, "weight": "2"})
    assert response.status_code == 302, response.content.decode()
    assert queue.member(owner).weight == 2
    assert list(Job.objects.fair_queue()) == [a1, a2, b1]
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert "owner" in page and "Pause the queue for maintenance" in page


def test_a_weight_out_of_range_is_refused_with_a_message(admin_client, owner):
    response = csrf_post(admin_client, reverse("admin:generation_queuemember_add"),
                         {"user": owner.pk, "weight": "11"})
    assert response.status_code == 200
    assert "less than or equal to 10" in response.content.decode()
    assert queue.member(owner).pk is None or queue.member(owner).weight == 1


def test_staff_pause_and_resume_the_whole_queue(admin_client, owner, monkeypatch):
    monkeypatch.setattr(lifecycle, "top_up_hints", lambda queues: 0)  # no broker needed here
    make_job(owner)
    response = csrf_post(admin_client, reverse(HOLD), {"action": "hold", "reason": "new GPUs"})
    assert response.status_code == 302
    hold = queue.held()
    assert hold is not None and hold.reason == "new GPUs" and hold.paused_by.username == "root"
    assert lifecycle.claim("w") is None
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert "Paused for maintenance" in page and "Resume the queue" in page
    csrf_post(admin_client, reverse(HOLD), {"action": "release"})
    assert queue.held() is None
    assert lifecycle.claim("w") is not None


def test_only_staff_reach_the_queue_page_and_the_hold_takes_a_post(owner_client, admin_client):
    assert owner_client.get(reverse(PAGE)).status_code == 302  # to the admin's sign-in
    assert csrf_post(owner_client, reverse(HOLD), {"action": "hold"}).status_code == 302
    assert queue.held() is None
    assert admin_client.get(reverse(HOLD)).status_code == 403
