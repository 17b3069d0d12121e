import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from webapp.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(origin: str | None, cookie: str | None = None) -> WebsocketCommunicator:
    headers = []
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/jobs/", headers=headers)


async def _connect(origin: str | None, cookie: str | None = None) -> tuple[bool, int | None]:
    """Whether the socket was accepted, and the close code if not. The app instance is ended
    either way, so that none is left running on the test's event loop."""
    communicator = _communicator(origin, cookie)
    try:
        return await communicator.connect()
    finally:
        await communicator.disconnect()


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def test_an_anonymous_socket_is_refused():
    connected, code = await _connect("http://localhost")
    assert not connected
    assert code == 4401


async def test_a_foreign_origin_is_refused_even_when_signed_in(owner):
    cookie = await _sync(_session_cookie, owner)
    connected, _ = await _connect("https://evil.example.net", cookie)
    assert not connected


async def test_a_socket_without_origin_is_refused(owner):
    cookie = await _sync(_session_cookie, owner)
    connected, _ = await _connect(None, cookie)
    assert not connected


async def test_a_signed_in_socket_from_our_origin_is_accepted(owner):
    cookie = await _sync(_session_cookie, owner)
    connected, _ = await _connect("http://localhost", cookie)
    assert connected


async def _sync(fn, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(fn)(*args)
