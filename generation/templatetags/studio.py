"""Small presentation helpers for job cards."""

from __future__ import annotations

import base64

from django import template
from django.http import QueryDict
from django.utils import timezone

from generation.models import Job, JobStatus
from generation.presets import preset_label as _preset_label
from worker.catalogue import get_preset
from worker.catalogue.planning import estimated_s

register = template.Library()


@register.filter
def preset_label(preset_id: str) -> str:
    return _preset_label(preset_id)


@register.filter
def duration(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def elapsed_s(job: Job) -> float | None:
    if job.started_at is None:
        return None
    end = job.finished_at or timezone.now()
    return (end - job.started_at).total_seconds()


@register.filter
def eta_s(job: Job) -> float | None:
    """Time left in denoising, from the average step so far; before the first step, the
    planner's estimate for the GPUs the job runs on."""
    step, total = job.progress_step, job.progress_total
    denoise = (job.timings or {}).get("denoise_elapsed_s")
    if not step or not total or denoise is None:
        return _planned_s(job) if job.status == JobStatus.RUNNING else None
    return denoise / step * (total - step)


def _planned_s(job: Job) -> float | None:
    params = job.params or {}
    try:
        return estimated_s(get_preset(job.preset), int(params["width"]), int(params["height"]),
                           int(params["num_frames"]), int(params["steps"]), job.gpus)
    except (KeyError, TypeError, ValueError):
        return None


@register.filter
def preview_src(job: Job) -> str:
    data = job.preview_jpeg
    if not data:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(bytes(data)).decode()


@register.filter
def percent(job: Job) -> int:
    return round(100 * job.progress_step / job.progress_total) if job.progress_total else 0


@register.simple_tag
def query_with(query: QueryDict | None, **overrides: object) -> str:
    """``?`` and the current query with some keys replaced (None or "" drops a key), URL-encoded
    by QueryDict: ``{% query_with request.GET after=next_cursor %}``."""
    params = query.copy() if query is not None else QueryDict(mutable=True)
    for key, value in overrides.items():
        params.pop(key, None)
        if value is not None and value != "":
            params[key] = str(value)
    return "?" + params.urlencode()
