"""Webhooks: a user's endpoints hear about their jobs, signed, retried with back-off.

`job_event` is called for every lifecycle event once it is committed (generation.events);
it builds the payload from the Job row then and hands it to a Celery task on the `webhooks`
queue, which signs and posts it. Progress is throttled per job. A URL that resolves to a
private, loopback or link-local address is refused, at creation and again before each
delivery, unless FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE is on.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from api.models import WebhookEndpoint
from api.schemas import WEBHOOK_EVENTS

log = logging.getLogger("framecraft.webhooks")

SIGNATURE_HEADER = "Framecraft-Signature"
MAX_ENDPOINTS = 10
# Lifecycle changes (generation.events.JobChange) and the webhook event each one is.
EVENT_OF_CHANGE = {"claimed": "started", "succeeded": "succeeded", "failed": "failed",
                   "progress": "progress"}
DELIVER_TASK = "framecraft.deliver_webhook"


class WebhookRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _public_address(host: str) -> str | None:
    """Why `host` may not be called (a message), or None when every address is public."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return f"The host {host!r} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return (f"{host} resolves to {address}, a private, loopback or reserved "
                    f"address; webhooks go to public addresses only.")
    return None


def check_url(url: str) -> None:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise WebhookRefused("url", "The URL's port is not a valid port number.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise WebhookRefused("url", "Give an http:// or https:// URL of at most 500 "
                                    "characters.")
    if parts.username or parts.password:
        raise WebhookRefused("url", "Leave credentials out of the URL; check the signature "
                                    "instead.")
    if not settings.FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE and (
            problem := _public_address(parts.hostname)):
        raise WebhookRefused("url", problem)


def create_endpoint(user: User, url: str, events: list[str]) -> WebhookEndpoint:
    url = url.strip()
    check_url(url)
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown or not events:
        raise WebhookRefused("events", f"Choose events among {', '.join(WEBHOOK_EVENTS)}.")
    if WebhookEndpoint.objects.filter(owner=user).count() >= MAX_ENDPOINTS:
        raise WebhookRefused("url", f"You have {MAX_ENDPOINTS} webhooks already; delete one "
                                    "first.")
    ordered = [e for e in WEBHOOK_EVENTS if e in events]
    return WebhookEndpoint.objects.create(owner=user, url=url, events=ordered,
                                          secret="whsec_" + secrets.token_urlsafe(24))


def job_event(owner_id: int, job_id: uuid.UUID, change: str) -> None:
    """Queue deliveries for this change of a job to the owner's endpoints that asked for it.
    Never raises: a webhook problem must not disturb the job."""
    event = EVENT_OF_CHANGE.get(change)
    if event is None:
        return
    try:
        # Throttled before the query: a running job reports several steps a second.
        if event == "progress" and not cache.add(
                f"webhook-progress:{job_id}", 1, settings.FRAMECRAFT_WEBHOOK_PROGRESS_SECONDS):
            return
        endpoints = [e for e in WebhookEndpoint.objects.filter(owner_id=owner_id)
                     .only("id", "events") if event in e.events]
        if not endpoints:
            return
        body = _payload(job_id, event)
        if body is None:
            return
        from webapp.celery import app

        for endpoint in endpoints:
            app.send_task(DELIVER_TASK, args=[endpoint.pk, event, body],
                          queue=settings.CELERY_WEBHOOKS_QUEUE)
    except Exception:
        log.exception("webhooks for job %s (%s) were not queued", job_id, change)


def _payload(job_id: uuid.UUID, event: str) -> str | None:
    from api.present import job_rows, jobs_out

    job = job_rows().filter(pk=job_id).first()
    if job is None:
        return None
    data = jobs_out([job])[0].model_dump(mode="json")
    return json.dumps({"id": str(uuid.uuid4()), "event": f"job.{event}",
                       "created_at": timezone.now().isoformat(), "data": data},
                      separators=(",", ":"))


class DeliveryFailed(Exception):
    pass


def deliver(endpoint_id: int, event: str, body: str) -> int | None:
    """Post one delivery, signed now; the status code, or None when the endpoint is gone.
    Raises DeliveryFailed for what a retry may fix (network, 5xx, 429, 408)."""
    import httpx

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return None
    raw = body.encode()
    status, error, retryable = None, "", False
    try:
        check_url(endpoint.url)  # again: what a name resolves to can change
        headers = {"Content-Type": "application/json", "User-Agent": "Framecraft-Webhooks/1",
                   "Framecraft-Event": f"job.{event}",
                   "Framecraft-Delivery": json.loads(body)["id"],
                   SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), raw)}
        response = httpx.post(endpoint.url, content=raw, headers=headers,
                              timeout=settings.FRAMECRAFT_WEBHOOK_TIMEOUT_SECONDS,
                              follow_redirects=False)
        status = response.status_code
        if status >= 500 or status in (408, 429):
            error, retryable = f"The receiver answered {status}.", True
        elif status >= 300:
            error = f"The receiver answered {status}; not retried."
    except WebhookRefused as refused:
        error = refused.message
    except httpx.HTTPError as problem:
        error, retryable = f"{type(problem).__name__}: {problem}", True
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        last_delivery_at=timezone.now(), last_status=status, last_error=error[:300])
    if retryable:
        raise DeliveryFailed(error)
    return status
