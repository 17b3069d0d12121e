"""Small presentation helpers for job cards."""

from __future__ import annotations

import base64

from django import template
from django.http import QueryDict
from django.utils import timezone

from generation import fleet
from generation.formatting import ago, duration, short_label, time_left
from generation.models import Job, JobStatus
from generation.presets import preset_label as _preset_label

register = template.Library()
for _filter in (short_label, ago, time_left, duration):
    register.filter(_filter)


@register.filter
def preset_label(preset_id: str) -> str:
    return _preset_label(preset_id)


@register.filter
def elapsed_s(job: Job) -> float | None:
    if job.started_at is None:
        return None
    end = job.finished_at or timezone.now()
    return (end - job.started_at).total_seconds()


def _estimator(context: template.Context) -> fleet.Estimator:
    """One estimator for a whole render (a page of cards reads the fleet once), or the one
    the caller passed for several renders (`estimator` in the context)."""
    estimator = context.get("estimator") or getattr(context, "framecraft_estimator", None)
    if estimator is None:
        estimator = fleet.Estimator()
        context.framecraft_estimator = estimator  # type: ignore[attr-defined]
    return estimator


@register.simple_tag(takes_context=True)
def run_estimate(context: template.Context, job: Job) -> float | None:
    """How long a waiting job will run on the kind of worker that will run it, from what
    finished jobs measured there (generation.fleet); None to say "estimating"."""
    return _estimator(context).run_s(job)


@register.simple_tag(takes_context=True)
def job_time_left(context: template.Context, job: Job) -> float | None:
    """A running job's time left, loading and finishing included; None: "estimating"."""
    return _estimator(context).left_s(job)


@register.simple_tag(takes_context=True)
def is_compact(context: template.Context, job: Job) -> bool:
    """Whether a finished video's card shows a poster that plays on hover (the history) rather
    than a player: all but the one the context features, so a long list loads no videos."""
    return job.status == JobStatus.SUCCEEDED and job.id != context.get("featured_id")


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
