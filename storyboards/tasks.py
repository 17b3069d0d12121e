"""The join runs on the models worker (small CPU work, never behind the GPU queue's jobs)."""

from __future__ import annotations

from celery import shared_task

from storyboards.render import JOIN_TASK


@shared_task(name=JOIN_TASK, ignore_result=True, acks_late=True)
def join_storyboard(storyboard_id: str) -> str | None:
    from storyboards.joining import join_storyboard as join  # PyAV and numpy: a worker's

    return join(storyboard_id)
