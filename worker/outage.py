"""PostgreSQL going away for a moment (a restart, a failover) must not cost a running job.
What a job does beside the model — its heartbeat, the cancel check between steps, its
progress — skips a beat and reconnects on the next try; the model goes on. Only the final
write of the result needs the database, and it is made once it answers again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger("framecraft.worker")

T = TypeVar("T")
DATABASE_AWAY: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def database_away(job_id: UUID, doing: str) -> None:
    """Note the failed write and drop this thread's broken connection, so that the next try
    opens a new one instead of failing on the dead one for good."""
    log.warning("job %s: the database did not answer (%s); the job goes on", job_id, doing)
    connection.close()


def when_database_answers(write: Callable[[], T], job_id: UUID, doing: str,
                          patience_s: float | None = None) -> T:
    """Make a write that must happen (a finished job's result), trying again each second
    while the database is away, for as long as the reaper would wait for this worker."""
    patience = settings.FRAMECRAFT_STALE_AFTER_SECONDS if patience_s is None else patience_s
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except DATABASE_AWAY:
            if time.monotonic() > deadline:
                raise
            database_away(job_id, doing)
            time.sleep(1.0)
