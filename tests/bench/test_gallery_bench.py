"""bench/gallery.py runs against a database that does not exist yet, and creates it."""

import secrets
import subprocess
import sys

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.processes import ROOT, service_env


def _maintenance():
    db = connection.settings_dict
    return psycopg.connect(dbname="postgres", user=db["USER"] or None,
                           password=db["PASSWORD"] or None, host=db["HOST"] or None,
                           port=db["PORT"] or None, autocommit=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark is for PostgreSQL")
def test_the_gallery_benchmark_creates_its_database():
    db = connection.settings_dict
    name = f"fc_bench_{secrets.token_hex(4)}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"
    try:
        result = subprocess.run(
            [sys.executable, "bench/gallery.py", "--videos", "30", "--requests", "3"],
            cwd=ROOT, env={**service_env(), "DATABASE_URL": url}, capture_output=True,
            text=True, timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"created database {name}" in result.stdout
        assert "30 videos for one user on postgresql" in result.stdout
        assert result.stdout.count("target p95") == 4
    finally:
        with _maintenance() as maintenance:
            maintenance.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
