"""A ceiling on request bodies, applied before Django reads them.

Django's ASGI handler spools a whole body to disk before any view runs, so the upload view's
own limit (which stops reading a file at FRAMECRAFT_MAX_UPLOAD_MB) would come after the bytes
were stored. This refuses a declared Content-Length over the ceiling with 413 at once, and
ends a body that streams past it (chunked) as a disconnect.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

Scope = dict[str, Any]
Message = dict[str, Any]
# The multipart envelope and the form's other fields around the largest file.
SLACK = 1024 * 1024


def limit_mb(path: str = "") -> int:
    """The largest file a request to `path` may carry: LoRAs on their page, else uploads."""
    if path.rstrip("/") == "/loras":
        return int(settings.FRAMECRAFT_MAX_LORA_MB)
    return int(settings.FRAMECRAFT_MAX_UPLOAD_MB)


def body_ceiling(path: str = "") -> int:
    return limit_mb(path) * 1024 * 1024 + SLACK


class BodyLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        ceiling = body_ceiling(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > ceiling:
            message = f"The file is larger than the {limit_mb(path)} MB limit.".encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(message)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": message})
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > ceiling:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, send)
