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
    lines = {}
    while len(lines) < 2:
        html = await socket.receive_from(timeout=5)
        for job in (first, second):
            # Only the waiting line: the card, and a focus on its Cancel, stay.
            if html.strip().startswith(f'<p id="job-{job.id}-waiting"'):
                lines[job.id] = html
            assert not html.strip().startswith(f'<article id="job-{job.id}"')
    assert "number 1 in the queue" in lines[first.id]
    assert "number 3 in the queue" in lines[second.id]
    await socket.disconnect()


async def _progress(job, step: int) -> None:
    await sync_to_async(lifecycle.progress)(
        job.id, job.attempts + 1, owner_id=job.owner_id, status_sequence=1, step=step, total=8,
        elapsed_s=0.5 * step, preview_jpeg=None)


async def test_a_step_sends_only_the_progress_so_the_cards_buttons_stay(owner):
    job = await sync_to_async(make_job)(owner)
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)  # the list
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                                                attempts=1)
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    card = await socket.receive_from(timeout=5)
    assert card.strip().startswith(f'<article id="job-{job.id}"') and "Cancel" in card
    await _progress(job, 2)
    tick = await socket.receive_from(timeout=5)
    assert tick.strip().startswith(f'<div id="job-{job.id}-progress"')
    assert "Step 2 / 8" in tick and "Cancel" not in tick and "<article" not in tick
    await socket.disconnect()


async def test_a_lost_state_hint_is_made_good_by_the_next_one(owner):
    """The claim's hint never came: the next step's hint brings the whole card, not a
    progress bar for a card that still shows the job waiting."""
    job = await sync_to_async(make_job)(owner)
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                                                attempts=1)
    await _progress(job, 3)
    html = await socket.receive_from(timeout=5)
    assert html.strip().startswith(f'<article id="job-{job.id}"')
    assert "Step 3 / 8" in html and 'data-status="running"' in html
    await socket.disconnect()


async def test_a_cancel_asked_replaces_the_card_though_no_state_changed(owner):
    job = await sync_to_async(make_job)(owner, status=JobStatus.RUNNING)
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)
    await sync_to_async(lifecycle.cancel)(job)
    html = await socket.receive_from(timeout=5)
    assert html.strip().startswith(f'<article id="job-{job.id}"') and "stopping…" in html
    assert "Cancel</button>" not in html
    await socket.disconnect()


async def test_a_step_finds_its_place_on_a_card_the_page_rendered_before_the_job_started(owner):
    """The page's own requests (a submit's answer, Show more) render cards too, and can land
    after the socket's update: a step must still find its target on a waiting card."""
    job = await sync_to_async(make_job)(owner)
    page = await sync_to_async(lambda: _page_for(owner))()  # rendered while the job waits
    socket = await _connect(owner)
    await socket.receive_from(timeout=5)
    await sync_to_async(lifecycle._transition)(job.id, (JobStatus.QUEUED,), JobStatus.RUNNING,
                                                attempts=1)
    await sync_to_async(lifecycle._announce)(job.id, "claimed")
    await socket.receive_from(timeout=5)  # the running card, which the page may not show
    await _progress(job, 1)
    tick = await socket.receive_from(timeout=5)
    target = f'id="job-{job.id}-progress"'
    assert target in tick and target in page
    await socket.disconnect()


def _page_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/studio/").content.decode()
