"""Who controls the queue: a person's own pause, an admin's weight for them in the fair
share, and the whole queue held for maintenance. (Rows, imported by generation.models; the
rules that use them are generation.queue's.)"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils import timezone

MAX_WEIGHT = 10

# A person's waiting jobs in their order: as they arranged them, then newer ones oldest first.
PERSONAL_ORDER = (F("queue_rank").asc(nulls_last=True), F("created_at").asc(), F("id").asc())


class QueueMember(models.Model):
    """A person's settings in the fair queue; no row means weight 1, not paused."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                on_delete=models.CASCADE, related_name="queue_member")
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_WEIGHT)],
        help_text="Turns per round in the fair share: 2 starts two of this person's jobs "
                  "for every one of someone with weight 1.")
    paused = models.BooleanField(
        default=False, help_text="Set by the person: their waiting jobs are not started "
                                 "(running ones finish) until they resume.")
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "queue member"
        # Claims look up the paused owners and the weights of those waiting.
        indexes = [models.Index(fields=("paused",), condition=models.Q(paused=True),
                                name="queue_member_paused")]

    def __str__(self) -> str:
        return f"{self.user} (weight {self.weight}{', paused' if self.paused else ''})"


class QueueHold(models.Model):
    """The whole queue paused for maintenance: while this one row exists, workers start
    nothing; new jobs are still accepted and wait."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    reason = models.CharField(max_length=200, blank=True)
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "queue hold"

    def __str__(self) -> str:
        return "The queue is paused for maintenance"
