"""What a benchmark needs before it measures the studio: its database (made if missing,
migrated) and Redis (the embedded one when no REDIS_URL is set). Call after django.setup()."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _maintenance() -> Any:
    """A connection to the server's ``postgres`` database, for creating and dropping."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(dbname="postgres", user=db["USER"] or None,
                           password=db["PASSWORD"] or None, host=db["HOST"] or None,
                           port=db["PORT"] or None, autocommit=True)


def ensure_database() -> None:
    """Create the configured PostgreSQL database if it does not exist yet."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite makes its file on first connection
    from psycopg import sql

    db = connection.settings_dict
    with _maintenance() as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                     [db["NAME"]]).fetchone()
        if not exists:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"created database {db['NAME']}")


def drop_database() -> None:
    """Drop the configured PostgreSQL database (a benchmark's, made by ``ensure_database``):
    a million-row run would otherwise leave its gigabyte on the disk."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    from psycopg import sql

    name = connection.settings_dict["NAME"]
    connection.close()
    with _maintenance() as maintenance:
        maintenance.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
    print(f"dropped database {name}")


@contextmanager
def ready_studio() -> Iterator[None]:
    """The studio's database and Redis for the length of the block. An embedded Redis this
    starts is stopped on the way out, however the benchmark ends: a redis-server left
    running would hold its socket and memory long after the numbers were printed."""
    from django.conf import settings
    from django.core.management import call_command

    redis_process = None
    if settings.REDIS_IS_EMBEDDED:
        from webapp import embedded_redis

        redis_process = embedded_redis.start(Path(settings.DATA_DIR))
    try:
        ensure_database()
        call_command("migrate", verbosity=0)
        yield
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(10)
