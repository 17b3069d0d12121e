"""A job's progress as server-sent events.

The Job row is the only truth: a hint on the owner's channel-layer group (or the queue's)
only says "read the row again", and a slow poll covers a hint that was lost. Each change is
one `job` event carrying the whole job; the stream ends after the terminal state.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS
from api.jobs import job_out, owned_job
from api.schemas import JobOut
from generation.events import QUEUE_GROUP, user_group

router = Router(tags=["jobs"])
POLL_SECONDS = 5.0
KEEPALIVE_SECONDS = 15.0

# The stream as it is on the wire: each event is SSE fields, its `data` a JobOut as JSON text
# (OpenAPI 3.1's contentMediaType/contentSchema say what that string holds).
_EVENT = {"type": "object", "required": ["event", "id", "data"], "properties": {
    "event": {"type": "string", "const": "job", "description": "always `job`"},
    "id": {"type": "string", "pattern": r"^\d+\.\d+$",
           "description": "`<status_sequence>.<progress step>`: which state of the job "
                          "this is"},
    "data": {"type": "string", "contentMediaType": "application/json",
             "contentSchema": {"$ref": "#/components/schemas/JobOut"},
             "description": "the whole job, a JobOut as one line of JSON"}}}
_STREAM = {"responses": {"200": {
    "description": "Server-sent events: first `retry: 3000`, then one `job` event per change "
                   "(`event: job`, `id: <status_sequence>.<step>`, `data: <JobOut as JSON>`) "
                   "and `: keep-alive` comments while nothing changes; the stream ends after "
                   "the job succeeds, fails or is cancelled.",
    "content": {"text/event-stream": {"schema": _EVENT,
                                      "example": 'event: job\nid: 2.3\ndata: {"id": "…", '
                                                 '"status": "running", …}\n\n'}}}}}


def _read(user: User, job_id: uuid.UUID) -> JobOut:
    return job_out(owned_job(user, job_id))


def _frame(job: JobOut) -> str:
    data = json.dumps(job.model_dump(mode="json"), separators=(",", ":"))
    return f"event: job\nid: {job.status_sequence}.{job.progress.step}\ndata: {data}\n\n"


async def _stream(user: User, first: JobOut) -> AsyncIterator[str]:
    yield "retry: 3000\n\n"
    yield _frame(first)
    if first.is_terminal:
        return
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is configured in settings"
    channel = await layer.new_channel()
    groups = [user_group(user.pk), QUEUE_GROUP]
    for group in groups:
        await layer.group_add(group, channel)
    clock = asyncio.get_running_loop().time
    shown, last_read, last_sent = first, clock(), clock()
    try:
        while True:
            wait = max(0.0, POLL_SECONDS - (clock() - last_read))
            try:
                hint = await asyncio.wait_for(layer.receive(channel), wait)
            except TimeoutError:
                hint = None
            # Another job's hint is no reason to read this one, unless a poll is due.
            if (hint is not None and hint.get("job_id") not in (None, str(first.id))
                    and clock() - last_read < POLL_SECONDS):
                continue
            # Outside any request: connections are checked and closed like the consumer's.
            job = await database_sync_to_async(_read)(user, first.id)
            last_read = clock()
            if (job.status_sequence, job.progress.step, job.queue_position) != (
                    shown.status_sequence, shown.progress.step, shown.queue_position):
                shown, last_sent = job, clock()
                yield _frame(job)
            elif clock() - last_sent >= KEEPALIVE_SECONDS:
                last_sent = clock()
                yield ": keep-alive\n\n"
            if job.is_terminal:
                return
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


@router.get("/jobs/{job_id}/events", response={**ERRORS}, url_name="job_events",
            openapi_extra=_STREAM, summary="Follow a job's progress (server-sent events)")
async def job_events(request: HttpRequest, job_id: uuid.UUID) -> StreamingHttpResponse:
    user = caller(request)
    # Within the request, like any view's reads: 404 before the stream starts.
    first = await sync_to_async(_read)(user, job_id)
    response = StreamingHttpResponse(_stream(user, first), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
