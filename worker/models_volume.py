"""Operators' model operations (install, verify, remove), carried out on a worker, which owns
the models volume. Progress lines are appended to the operation's row as they come."""

from __future__ import annotations

import logging
import time

from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from generation.models import JobStatus, ModelAction, ModelOperation
from worker.catalogue import get_installable, weights

log = logging.getLogger("framecraft.worker")

# The admin page polls every few seconds: more frequent writes would only cost.
WRITE_INTERVAL_S = 1.0


def carry_out(operation_id: int, worker_name: str) -> str | None:
    """Run a queued operation; return its final status (None when it was not ours to run)."""
    claimed = ModelOperation.objects.filter(pk=operation_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, worker=worker_name)
    if not claimed:
        return None
    operation = ModelOperation.objects.get(pk=operation_id)
    say = _Appender(operation_id)
    try:
        preset = get_installable(operation.preset)
        if operation.action == ModelAction.INSTALL:
            weights.fetch(preset, say=say)
        elif operation.action == ModelAction.VERIFY:
            problems = weights.verify(preset)
            if problems:
                raise weights.WeightsError("; ".join(problems))
            say(f"{preset.id}: every file is present and readable.")
        else:
            freed = weights.remove(preset)
            say(f"Removed {preset.id}: {freed / 1e9:.2f} GB freed.")
        status = JobStatus.SUCCEEDED
    except (weights.WeightsError, KeyError) as problem:
        say(str(problem.args[0] if isinstance(problem, KeyError) else problem))
        status = JobStatus.FAILED
    except Exception as problem:
        log.exception("model operation %s crashed", operation_id)
        say(f"Unexpected error: {problem}")
        status = JobStatus.FAILED
    say.flush()
    ModelOperation.objects.filter(pk=operation_id).update(status=status,
                                                          finished_at=timezone.now())
    return status


class _Appender:
    """Collects progress lines and appends them to the row at most once a second."""

    def __init__(self, operation_id: int) -> None:
        self.operation_id = operation_id
        self.lines: list[str] = []
        self.last_write = 0.0

    def __call__(self, line: str) -> None:
        self.lines.append(line.rstrip())
        if time.monotonic() - self.last_write >= WRITE_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        text = "\n".join(self.lines) + "\n"
        self.lines.clear()
        self.last_write = time.monotonic()
        ModelOperation.objects.filter(pk=self.operation_id).update(
            message=Concat(F("message"), Value(text)))
