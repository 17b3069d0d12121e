"""bench/gallery.py runs against a database that does not exist yet, and creates it, and
leaves no embedded Redis behind."""

import secrets
import subprocess
import sys

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.processes import ROOT, service_env
from webapp import embedded_redis


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
        assert result.stdout.count("target p95") == 11
    finally:
        with _maintenance() as maintenance:
            maintenance.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def test_the_gallery_benchmark_stops_the_embedded_redis_it_started(tmp_path):
    env = {**service_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
           "FRAMECRAFT_DATA_DIR": str(tmp_path)}
    del env["REDIS_URL"]  # no Redis configured: the benchmark starts the embedded one
    result = subprocess.run(
        [sys.executable, "bench/gallery.py", "--videos", "10", "--requests", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "10 videos for one user on sqlite" in result.stdout
    assert not embedded_redis.is_running(tmp_path)
