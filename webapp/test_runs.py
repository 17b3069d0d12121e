"""Test runs side by side on one machine: each pytest run against a shared PostgreSQL and Redis
takes a Redis database and a test-database name of its own, so that one run's workers never
take another run's job messages and the two never fight over `test_<name>`.

A run claims slot n (1..15) with a key in Redis database 0 that expires on its own, and hands
the slot to the processes it starts through the environment, so that they join it.
"""

from __future__ import annotations

import atexit
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SLOT_ENV = "FRAMECRAFT_TEST_SLOT"
SLOTS = range(1, 16)  # Redis has 16 databases by default; 0 keeps the claims
CLAIM_TTL_S = 6 * 3600


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def claim_slot(redis_url: str) -> int | None:
    """This run's slot: inherited from the run that started this process, or claimed now;
    None when every slot is taken (the run then shares database 0, as before)."""
    inherited = os.environ.get(SLOT_ENV)
    if inherited:
        return int(inherited)
    import redis

    client = redis.Redis.from_url(_with_db(redis_url, 0))
    for slot in SLOTS:
        key = f"framecraft:test-slot:{slot}"
        if client.set(key, os.getpid(), nx=True, ex=CLAIM_TTL_S):
            os.environ[SLOT_ENV] = str(slot)
            atexit.register(client.delete, key)
            return slot
    return None


def isolate(redis_url: str, database: Any) -> str:
    """The Redis URL this run uses; names the run's own PostgreSQL test database in
    `database` (a DATABASES entry: dj_database_url's TypedDict, hence Any)."""
    slot = claim_slot(redis_url)
    if slot is None:
        return redis_url
    if database["ENGINE"] != "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{slot}"
    isolated = _with_db(redis_url, slot)
    os.environ["REDIS_URL"] = isolated
    return isolated
