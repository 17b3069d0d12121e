"""How the site writes times, durations and model names, for templates (through the `studio`
template tags), forms, the admin and the API alike: plain functions, so code that formats a
value does not import a template library to do it."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from generation import fleet
from generation.models import Job
from generation.presets import preset_label


def short_label(preset_id: str) -> str:
    """A model's label without its parenthetical ("Wan 2.1 14B (text to video, 720p)" → "Wan
    2.1 14B"): for places that name the model on every card or row."""
    return preset_label(preset_id).split(" (", 1)[0]


def ago(when: datetime | None) -> str:
    """"just now" under a minute (timesince says "0 minutes"), else "3 minutes ago"."""
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when)} ago"


def time_left(when: datetime) -> str:
    """"6 days left": the largest unit only, short enough for a dropdown's option."""
    return f"{timeuntil(when, depth=1)} left"


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


def eta_s(job: Job) -> float | None:
    """Time left in denoising (the API's figure): from the average step so far; before the
    first step, the estimate for the job's kind of worker (None when there is none yet)."""
    step, total = job.progress_step, job.progress_total
    denoise = (job.timings or {}).get("denoise_elapsed_s")
    if not step or not total or denoise is None:
        estimator = fleet.Estimator()
        return estimator.denoise_s(job.preset, job.params or {}, estimator.kind_for(job),
                                   job.gpus)
    return float(denoise) / step * (total - step)
