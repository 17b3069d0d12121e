"""The event stream reads the Job row: on a hint at once, and by a slow poll when a hint is
lost; it ends after the terminal state."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async

from api import events_route
from api.jobs import job_out
from generation import events, lifecycle
from generation.models import Job, JobStatus
from tests.jobs import submit_tiny

pytestmark = pytest.mark.django_db(transaction=True)


def _data(frame: str) -> dict:
    line = next(line for line in frame.splitlines() if line.startswith("data: "))
    return json.loads(line[6:])


async def _next_job(stream) -> dict:
    while True:
        frame = await asyncio.wait_for(anext(stream), 10)
        if frame.startswith("event: job"):
            return _data(frame)


async def test_a_hint_makes_the_stream_read_the_row_at_once(owner, monkeypatch):
    monkeypatch.setattr(events_route, "POLL_SECONDS", 60.0)  # only the hint can wake it
    job = await database_sync_to_async(submit_tiny)(owner)
    stream = events_route._stream(owner, await database_sync_to_async(job_out)(job))
    assert (await _next_job(stream))["status"] == "queued"
    claimed = asyncio.create_task(_next_job(stream))
    await asyncio.sleep(0.3)  # the stream is listening
    # lifecycle.claim writes the row and sends its hint (sync code, on a thread).
    await database_sync_to_async(lifecycle.claim)("test-claimer")
    event = await claimed
    assert event["status"] == "running" and event["queue_position"] is None
    fetch = database_sync_to_async(Job.objects.get)
    await database_sync_to_async(lifecycle.cancel)(await fetch(pk=job.pk))
    await database_sync_to_async(lifecycle.cancelled)(await fetch(pk=job.pk))
    last = await _next_job(stream)
    while last["status"] == "running":
        last = await _next_job(stream)
    assert last["status"] == "cancelled"
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 10)  # the stream ended by itself


async def test_a_lost_hint_only_delays_the_event_until_the_next_poll(owner, monkeypatch):
    monkeypatch.setattr(events_route, "POLL_SECONDS", 0.3)
    monkeypatch.setattr(events, "_send", lambda group, event: None)  # every hint is lost
    job = await database_sync_to_async(submit_tiny)(owner)
    stream = events_route._stream(owner, await database_sync_to_async(job_out)(job))
    assert (await _next_job(stream))["status"] == "queued"
    await database_sync_to_async(lifecycle.claim)("test-claimer")
    event = await _next_job(stream)
    assert event["status"] == JobStatus.RUNNING
    await stream.aclose()


def _parse_frame(frame: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in frame.strip().splitlines())


def test_the_document_describes_each_event_as_it_is_sent(api, owner):
    """Each event is SSE fields {event, id, data}, its data a JobOut as JSON text."""
    from api.schemas import JobOut

    document = api.get("openapi.json").json()
    content = document["paths"]["/api/v1/jobs/{job_id}/events"]["get"]["responses"]["200"][
        "content"]["text/event-stream"]
    schema = content["schema"]
    assert set(schema["properties"]) == set(schema["required"]) == {"event", "id", "data"}
    data = schema["properties"]["data"]
    assert data["type"] == "string" and data["contentMediaType"] == "application/json"
    assert data["contentSchema"] == {"$ref": "#/components/schemas/JobOut"}
    assert "JobOut" in document["components"]["schemas"]

    job = submit_tiny(owner)
    event = _parse_frame(events_route._frame(job_out(job)))
    assert set(event) == {"event", "id", "data"}
    assert event["event"] == schema["properties"]["event"]["const"]
    assert re.fullmatch(schema["properties"]["id"]["pattern"], event["id"])
    JobOut.model_validate_json(event["data"])
