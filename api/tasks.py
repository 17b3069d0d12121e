"""Webhook deliveries on the `webhooks` queue, retried with exponential back-off."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from api import webhooks

log = logging.getLogger("framecraft.webhooks")


@shared_task(name=webhooks.DELIVER_TASK, bind=True, acks_late=True, ignore_result=True,
             max_retries=None)
def deliver_webhook(self: Task, endpoint_id: int, event: str, body: str) -> int | None:
    try:
        return webhooks.deliver(endpoint_id, event, body)
    except webhooks.DeliveryFailed as failure:
        attempt = self.request.retries + 1
        if attempt >= settings.FRAMECRAFT_WEBHOOK_ATTEMPTS:
            log.warning("webhook %s gave up after %d attempts: %s", endpoint_id, attempt,
                        failure)
            return None
        delay = settings.FRAMECRAFT_WEBHOOK_BACKOFF_SECONDS * 2 ** self.request.retries
        raise self.retry(countdown=delay, exc=failure) from None
