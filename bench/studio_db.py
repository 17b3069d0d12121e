"""What a benchmark needs before it measures the studio: its database (made if missing,
migrated) and Redis (the embedded one when no REDIS_URL is set). Call after django.setup()."""

from __future__ import annotations

from pathlib import Path


def ensure_database() -> None:
    """Create the configured PostgreSQL database if it does not exist yet."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite makes its file on first connection
    import psycopg
    from psycopg import sql

    db = connection.settings_dict
    with psycopg.connect(dbname="postgres", user=db["USER"] or None,
                         password=db["PASSWORD"] or None, host=db["HOST"] or None,
                         port=db["PORT"] or None, autocommit=True) as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                     [db["NAME"]]).fetchone()
        if not exists:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"created database {db['NAME']}")


def ready_studio() -> None:
    from django.conf import settings
    from django.core.management import call_command

    if settings.REDIS_IS_EMBEDDED:
        from webapp import embedded_redis

        embedded_redis.start(Path(settings.DATA_DIR))
    ensure_database()
    call_command("migrate", verbosity=0)
