"""The ASGI ceiling on request bodies: a declared length over it is 413 before a byte is read;
a chunked body is read to the ceiling, then refused the same way or handed on with its length.
The 413 is the API's JSON under /api/ and a short HTML page for the site."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from accounts.api_keys import create_key
from generation.models import Upload
from tests.processes import free_port, start_web
from tests.uploads.files import png
from webapp.body_limit import BodyLimit, body_ceiling

CHUNKED = [(b"transfer-encoding", b"chunked")]


class Downstream:
    def __init__(self) -> None:
        self.called = False
        self.scope: dict = {}
        self.messages: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.called, self.scope = True, scope
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes], path: str = "/uploads/"):
    app = Downstream()
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]

    async def receive():
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    return app, sent, pending


def _headers(message: dict) -> dict[bytes, bytes]:
    return dict(message["headers"])


def test_a_declared_length_over_the_ceiling_is_413_unread(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    app, sent, pending = run([(b"content-length", str(body_ceiling() + 1).encode())],
                             [b"x" * 10])
    assert not app.called
    assert sent[0]["status"] == 413
    assert _headers(sent[0])[b"content-type"].startswith(b"text/html")
    assert b"The file is larger than the 1 MB limit." in sent[1]["body"]
    assert len(pending) == 1  # the body was never read


def test_the_apis_413_is_its_error_json(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    _, sent, _ = run([(b"content-length", str(body_ceiling() + 1).encode())], [b"x"],
                     path="/api/v1/uploads")
    assert sent[0]["status"] == 413
    assert _headers(sent[0])[b"content-type"] == b"application/json"
    assert json.loads(sent[1]["body"]) == {
        "code": "too_large", "message": "The file is larger than the 1 MB limit.",
        "fields": {}}


def test_a_body_within_the_ceiling_passes(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    app, sent, _ = run([(b"content-length", b"20")], [b"a" * 10, b"b" * 10])
    assert app.called and sent == []
    assert [m["body"] for m in app.messages] == [b"a" * 10, b"b" * 10]


def test_a_chunked_body_past_the_ceiling_is_413_before_the_app(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    chunk = b"z" * (1024 * 1024)
    app, sent, pending = run(CHUNKED, [chunk, chunk, chunk, chunk], path="/api/v1/uploads")
    assert not app.called
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["code"] == "too_large"
    assert len(pending) == 1  # reading stopped at the ceiling


def test_a_chunked_body_within_the_ceiling_is_handed_on_with_its_length(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    app, sent, _ = run(CHUNKED, [b"a" * 10, b"b" * 5, b""])
    assert sent == []
    assert b"".join(m["body"] for m in app.messages) == b"a" * 10 + b"b" * 5
    assert not app.messages[-1]["more_body"]
    headers = _headers(app.scope)
    assert headers[b"content-length"] == b"15" and b"transfer-encoding" not in headers


@pytest.fixture
def web(django_db_setup, tmp_path):
    port = free_port()
    server = start_web(tmp_path / "web.log", port, FRAMECRAFT_MAX_UPLOAD_MB="1",
                       FRAMECRAFT_MEDIA_ROOT=str(tmp_path / "media"))
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _chunked_multipart(data: bytes, name: str = "harbour.png"):
    boundary = "framecraftboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()

    def chunks():  # a generator: httpx sends it chunked, with no Content-Length
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    return chunks(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.django_db(transaction=True)
def test_a_real_server_takes_a_chunked_upload_and_refuses_one_past_the_ceiling(web, owner):
    headers = {"Authorization": f"Bearer {create_key(owner, 'tests').secret}"}
    with httpx.Client(base_url=web, headers=headers, timeout=60) as http:
        content, extra = _chunked_multipart(png())
        answer = http.post("/api/v1/uploads", content=content, headers=extra)
        assert answer.status_code == 201, answer.text
        assert Upload.objects.get(owner=owner).original_name == "harbour.png"

        content, extra = _chunked_multipart(b"\x00" * (3 * 1024 * 1024))
        answer = http.post("/api/v1/uploads", content=content, headers=extra)
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "too_large"
