"""The jobs websocket: the page's partials, per user, current state on (re)connect."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from generation import lifecycle
from generation.models import JobStatus
from tests.jobs import make_job, submit_tiny
from webapp.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _connect(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=[
        (b"origin", b"http://localhost"), (b"cookie", (await _cookie(user)).encode())])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_a_socket_gets_the_current_job_list_when_it_connects(owner):
    job = await sync_to_async(make_job)(owner, prompt="a quiet harbour")
    socket = await _connect(owner)
    html = await socket.receive_from(timeout=5)
    assert 'id="job-list"' in html
    assert f'id="job-{job.id}"' in html
    assert "a quiet harbour" in html
    await socket.disconnect()


async def test_a_job_change_sends_the_same_card_partial_the_page_renders(owner):
    job = await sync_to_async(make_job)(owner)
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)  # the list
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                                                progress_step=3, progress_total=8)
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    html = await socket.receive_from(timeout=5)
    assert html.strip().startswith(f'<article id="job-{job.id}"')
    assert "Step 3 / 8" in html
    # A duplicated hint for the same state sends nothing again.
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_user_b_never_receives_user_a_events(owner, stranger):
    job = await sync_to_async(make_job)(owner, prompt="owner's secret prompt")
    socket_b = await _connect(stranger)
    first = await socket_b.receive_from(timeout=5)
    assert "owner's secret prompt" not in first
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING)
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    assert await socket_b.receive_nothing(timeout=0.5)
    await socket_b.disconnect()


async def test_a_forged_hint_for_someone_elses_job_shows_nothing(owner, stranger):
    job = await sync_to_async(make_job)(owner)
    socket_b = await _connect(stranger)
    await socket_b.receive_from(timeout=5)
    from generation import events

    await sync_to_async(events.job_updated)(stranger.pk, job.id, "running", 1, 0,
                                            "progress")
    assert await socket_b.receive_nothing(timeout=0.5)
    await socket_b.disconnect()


async def test_messages_from_the_browser_are_ignored(owner):
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)
    await socket.send_to(text_data='{"type": "job.updated", "job_id": "x"}')
    await socket.send_to(text_data="not json at all")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_two_tabs_of_one_person_both_follow_a_job(owner):
    job = await sync_to_async(make_job)(owner)
    tabs = [await _connect(owner), await _connect(owner)]
    for tab in tabs:
        await tab.receive_from(timeout=5)  # the list
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                                                progress_step=2, progress_total=8)
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    for tab in tabs:
        assert "Step 2 / 8" in await tab.receive_from(timeout=5)
        await tab.disconnect()


async def test_a_newcomers_job_moves_waiting_cards_back_in_line(owner, stranger):
    first = await sync_to_async(make_job)(owner)
    second = await sync_to_async(make_job)(owner)
    socket = await _connect(owner)
    listing = await socket.receive_from(timeout=5)
    assert "number 2 in the queue" in listing
    # Round-robin: the stranger's first job goes before the owner's second.
    await sync_to_async(submit_tiny)(stranger, prompt="a lighthouse")
    cards = {}
    while len(cards) < 2:
        html = await socket.receive_from(timeout=5)
        for job in (first, second):
            if html.strip().startswith(f'<article id="job-{job.id}"'):
                cards[job.id] = html
    assert "number 1 in the queue" in cards[first.id]
    assert "number 3 in the queue" in cards[second.id]
    await socket.disconnect()
