"""Storyboards: an ordered list of shots rendered one job each, then joined into one video."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from generation.models import Job, Lora, Subject, Upload, Video


class RenderState(models.TextChoices):
    DRAFT = "draft", "Not rendered yet"
    RENDERING = "rendering", "Rendering"
    JOINING = "joining", "Joining the shots"
    STOPPED = "stopped", "Stopped"
    DONE = "done", "Rendered"


class Transition(models.TextChoices):
    CONTINUE = "continue", "Continue from the last frame"
    CUT = "cut", "Cut"


MAX_SHOTS = 24
MAX_TITLE = 120


class Storyboard(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="storyboards")
    title = models.CharField(max_length=MAX_TITLE)
    state = models.CharField(max_length=16, choices=RenderState.choices,
                             default=RenderState.DRAFT)
    # Why the render stopped (a shot that could not start, a join that failed).
    message = models.TextField(blank=True)
    # The latest joined video, and the shot videos it was joined from (in order): it is the
    # storyboard's result while those are still its shots' videos.
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    joined_from = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-updated_at", "-created_at")
        indexes = [models.Index(fields=("owner", "-updated_at"), name="storyboard_owner_idx")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("storyboard", args=[self.id])


class Shot(models.Model):
    """One shot: its prompt, model, length and seed, and how it starts (a start image, a
    subject, or the last frame of the shot before). It remembers the settings its job and its
    video were made with, so a render reuses what did not change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    storyboard = models.ForeignKey(Storyboard, on_delete=models.CASCADE, related_name="shots")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    preset = models.CharField(max_length=64)
    num_frames = models.PositiveIntegerField()
    seed = models.PositiveBigIntegerField()
    transition = models.CharField(max_length=16, choices=Transition.choices,
                                  default=Transition.CUT)
    start_image = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    lora = models.ForeignKey(Lora, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    lora_strength = models.FloatField(default=1.0)

    # The latest job made for the shot and the settings it was made with.
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    job_settings = models.JSONField(default=dict, blank=True)
    # The shot's video and the settings it was rendered with (a finished job's).
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    video_settings = models.JSONField(default=dict, blank=True)
    # The previous shot's last frame, as the owner's upload, when the shot continues it.
    frame = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        ordering = ("storyboard", "position")
        indexes = [models.Index(fields=("storyboard", "position"), name="shot_order_idx")]

    def __str__(self) -> str:
        return self.prompt[:60]

    def choices(self) -> dict[str, Any]:
        """What the person chose for the shot (its render settings without the frame it
        continues from)."""
        return {"prompt": self.prompt, "preset": self.preset, "num_frames": self.num_frames,
                "seed": self.seed, "transition": self.transition,
                "start_image": str(self.start_image_id) if self.start_image_id else None,
                "subject": str(self.subject_id) if self.subject_id else None,
                "lora": str(self.lora_id) if self.lora_id else None,
                "lora_strength": self.lora_strength if self.lora_id else None}


def swap(shots: list[Shot], index: int, other: int) -> None:
    """Swap two shots' places and store every shot's position as its rank (1, 2, …)."""
    shots[index], shots[other] = shots[other], shots[index]
    for rank, shot in enumerate(shots, start=1):
        if shot.position != rank:
            shot.position = rank
            shot.save(update_fields=["position"])
