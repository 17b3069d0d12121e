"""Small presentation helpers for job cards."""

from __future__ import annotations

import base64

from django import template
from django.http import QueryDict
from django.utils import timezone

from generation.models import Job
from generation.presets import preset_label as _preset_label
from worker.catalogue import CATALOGUE
from worker.catalogue.planning import size_share, speedup
from worker.catalogue.speed import eta_s as speed_eta

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
def predicted_s(job: Job) -> float | None:
    """Denoising time predicted before it runs: the job's speed mode (catalogue/speed.py) at
    its size, on the GPUs the planner gave it (catalogue/planning.py)."""
    preset = CATALOGUE.get(job.preset)
    params = job.params or {}
    if preset is None:
        return None
    try:
        mode = speed_eta(preset, params.get("speed", "quality"), int(params["steps"]),
                         float(params["guidance"]), fp8=bool(params.get("fp8")))
        share = size_share(preset, int(params["width"]), int(params["height"]),
                           int(params["num_frames"]))
    except (KeyError, TypeError, ValueError):
        return None
    return mode * share / speedup(preset, job.gpus)


@register.filter
def eta_s(job: Job) -> float | None:
    """Time left in denoising: from the average step so far; before the first step, the
    prediction."""
    step, total = job.progress_step, job.progress_total
    denoise = (job.timings or {}).get("denoise_elapsed_s")
    if not step or not total or denoise is None:
        return predicted_s(job)
    return denoise / step * (total - step)


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
