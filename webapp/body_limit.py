"""A ceiling on request bodies, applied before Django reads them.

Django's ASGI handler spools a whole body to disk before any view runs, so the upload view's
own limit (which stops reading a file at FRAMECRAFT_MAX_UPLOAD_MB) would come after the bytes
were stored. This refuses a declared Content-Length over the ceiling with 413 at once.

A chunked body (no Content-Length) is read here first, spooled like Django would, up to the
ceiling: past it the answer is the same 413; within it the body is handed on with the length
it turned out to have, since Django's form parser reads nothing of a body of unknown length.

The 413 speaks the caller's language: the API's {code, message, fields} JSON under /api/, a
short HTML page for the site.
"""

from __future__ import annotations

import html
import json
import tempfile
from typing import Any

from django.conf import settings

Scope = dict[str, Any]
Message = dict[str, Any]
# The multipart envelope and the form's other fields around the largest file.
SLACK = 1024 * 1024
# Chunked bodies are kept in memory up to this, then on disk (Django's own spooling size).
SPOOL_BYTES = 2 * 1024 * 1024
REPLAY_CHUNK = 256 * 1024


def limit_mb(path: str = "") -> int:
    """The largest file a request to `path` may carry: LoRAs on their page and API route,
    else uploads."""
    if path.rstrip("/") in ("/loras", "/api/v1/loras"):
        return int(settings.FRAMECRAFT_MAX_LORA_MB)
    return int(settings.FRAMECRAFT_MAX_UPLOAD_MB)


def body_ceiling(path: str = "") -> int:
    return limit_mb(path) * 1024 * 1024 + SLACK


def too_large(path: str) -> tuple[bytes, bytes]:
    """(content type, body) of the 413 for `path`."""
    message = f"The file is larger than the {limit_mb(path)} MB limit."
    if path.startswith("/api/"):
        body = {"code": "too_large", "message": message, "fields": {}}
        return b"application/json", json.dumps(body).encode()
    # No template or stylesheet here (Django has not run): readable on phones and in dark mode.
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="color-scheme" content="light dark">'
            f"<title>File too large</title></head><body><main><h1>File too large</h1>"
            f"<p>{html.escape(message)}</p><p><a href=\"/\">Back to Framecraft</a></p>"
            f"</main></body></html>")
    return b"text/html; charset=utf-8", page.encode()


async def _refuse(path: str, send: Any) -> None:
    content_type, body = too_large(path)
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        ceiling = body_ceiling(path)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > ceiling:
            await _refuse(path, send)
            return
        if declared is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            await self._chunked(scope, receive, send, path, ceiling)
            return
        await self.app(scope, receive, send)

    async def _chunked(self, scope: Scope, receive: Any, send: Any, path: str,
                       ceiling: int) -> None:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            size = 0
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client went away: nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > ceiling:
                    await _refuse(path, send)
                    return
                spool.write(chunk)
                if not message.get("more_body"):
                    break
            spool.seek(0)
            headers = [(k, v) for k, v in scope.get("headers") or []
                       if k != b"transfer-encoding"]
            headers.append((b"content-length", str(size).encode()))
            done = False

            async def replay() -> Message:
                nonlocal done
                if done:  # after the body: what the client does next (a disconnect)
                    return await receive()
                chunk = spool.read(REPLAY_CHUNK)
                done = spool.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not done}

            await self.app({**scope, "headers": headers}, replay, send)
