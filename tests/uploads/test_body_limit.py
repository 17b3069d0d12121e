"""The ASGI ceiling on request bodies: a declared length over it is 413 before a byte is read;
a chunked body that runs past it ends as a disconnect."""

from __future__ import annotations

import asyncio

from webapp.body_limit import BodyLimit, body_ceiling


class Downstream:
    def __init__(self) -> None:
        self.called = False
        self.messages: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    app = Downstream()
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]

    async def receive():
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/uploads/", "headers": headers}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    return app, sent, pending


def test_a_declared_length_over_the_ceiling_is_413_unread(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    app, sent, pending = run([(b"content-length", str(body_ceiling() + 1).encode())],
                             [b"x" * 10])
    assert not app.called
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b"The file is larger than the 1 MB limit."
    assert len(pending) == 1  # the body was never read


def test_a_body_within_the_ceiling_passes(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    app, sent, _ = run([(b"content-length", b"20")], [b"a" * 10, b"b" * 10])
    assert app.called and sent == []
    assert [m["body"] for m in app.messages] == [b"a" * 10, b"b" * 10]


def test_a_chunked_body_past_the_ceiling_ends_as_a_disconnect(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    chunk = b"z" * (1024 * 1024)
    app, _, pending = run([], [chunk, chunk, chunk, chunk])
    assert app.messages[-1] == {"type": "http.disconnect"}
    assert len(app.messages) == 3
    assert len(pending) == 1
