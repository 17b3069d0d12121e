"""What the API keeps beside the domain: idempotency keys and webhook endpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` for a job it created: the same key again returns that job;
    the same key with another body is refused."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    job = models.ForeignKey("generation.Job", null=True, on_delete=models.CASCADE,
                            related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("owner", "key"),
                                               name="idempotency_key_per_owner")]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    """A URL of a user's that hears about their jobs, signed with `secret` (HMAC-SHA256)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="webhooks")
    url = models.URLField(max_length=500)
    # Kept as it is: it signs every delivery (a hash could not).
    secret = models.CharField(max_length=64)
    events = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.url
