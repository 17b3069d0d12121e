"""A move in the queue reaches only the people with a job waiting: their sockets show the new
places, while the open studios of everyone else hear nothing (each job start used to make
every open socket read and render its person's waiting cards)."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from generation import events, lifecycle
from generation.models import JobStatus
from tests.conftest import make_user
from tests.jobs import make_job
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
    await communicator.receive_from(timeout=5)  # the list, on connecting
    return communicator


async def test_a_job_start_moves_the_places_of_those_waiting_only(owner, stranger):
    first = await sync_to_async(make_job)(owner, prompt="goes first")
    second = await sync_to_async(make_job)(stranger, prompt="waits behind it")
    idle = await sync_to_async(make_user)("nothing-waiting")
    waiting_socket, idle_socket, owner_socket = (
        await _connect(stranger), await _connect(idle), await _connect(owner))
    assert await sync_to_async(events._waiting_owners)() in ([owner.pk, stranger.pk],
                                                             [stranger.pk, owner.pk])

    # The owner's job starts: the stranger's waiting card moves up to the front.
    await sync_to_async(lifecycle._transition)(first.id, (JobStatus.QUEUED,), JobStatus.RUNNING)
    await sync_to_async(events.queue_moved)()
    html = await waiting_socket.receive_from(timeout=5)
    assert f'id="job-{second.id}' in html and "goes first" not in html
    assert await idle_socket.receive_nothing(timeout=0.5)
    # The owner has nothing waiting now: no places to show, so no message.
    assert await owner_socket.receive_nothing(timeout=0.5)
    assert await sync_to_async(events._waiting_owners)() == [stranger.pk]
    for socket in (waiting_socket, idle_socket, owner_socket):
        await socket.disconnect()
    await _close_connections()


async def test_holding_the_whole_queue_still_reaches_every_open_studio(owner, stranger):
    """Everyone's list changes on a hold (QUEUE_GROUP), waiting or not."""
    await sync_to_async(make_job)(owner)
    socket = await _connect(stranger)
    await sync_to_async(events.everyones_jobs_changed)()
    assert 'id="job-list"' in await socket.receive_from(timeout=5)
    await socket.disconnect()
    await _close_connections()


async def test_the_hint_goes_to_the_waiting_peoples_groups_not_to_every_socket(owner, stranger):
    """At the channel layer, as a socket joins (its person's group and the queue's): one hint
    for a person with a job waiting, none for a person without (each of those used to read its
    person's waiting jobs from the database on every job start)."""
    from channels.layers import get_channel_layer

    await sync_to_async(make_job)(stranger)
    layer = get_channel_layer()
    channels = {}
    for user in (owner, stranger):
        channels[user.pk] = await layer.new_channel()
        for group in (events.user_group(user.pk), events.QUEUE_GROUP):
            await layer.group_add(group, channels[user.pk])
    try:
        await sync_to_async(events.queue_moved)()
        assert (await layer.receive(channels[stranger.pk]))["type"] == "queue.moved"
        with pytest.raises(TimeoutError):
            await _receive(layer, channels[stranger.pk])  # once, not once per group
        with pytest.raises(TimeoutError):
            await _receive(layer, channels[owner.pk])
    finally:
        for user_id, channel in channels.items():
            for group in (events.user_group(user_id), events.QUEUE_GROUP):
                await layer.group_discard(group, channel)
        await _close_connections()


async def _receive(layer, channel: str) -> dict:
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), 0.5)


async def _close_connections() -> None:
    """The database connection sync_to_async's thread opened: the test database is dropped
    after the last test, which a connection left open would hold up."""
    from django.db import connections

    await sync_to_async(connections.close_all)()
