"""bench/studio.py makes its database, fills a history through SQL, times every case, and
with --drop leaves no database behind."""

import secrets
import subprocess
import sys

import psycopg
import pytest
from django.db import connection

from tests.processes import ROOT, service_env


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark is for PostgreSQL")
def test_the_studio_benchmark_runs_and_drops_its_database():
    db = connection.settings_dict
    name = f"fc_bench_{secrets.token_hex(4)}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"
    result = subprocess.run(
        [sys.executable, "bench/studio.py", "--jobs", "20,40", "--requests", "3",
         "--rounds", "1", "--drop"],
        cwd=ROOT, env={**service_env(), "DATABASE_URL": url}, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"created database {name}" in result.stdout
    assert result.stdout.count("target p95") == 10  # five cases at each of two sizes
    assert f"dropped database {name}" in result.stdout
    with psycopg.connect(dbname="postgres", user=db["USER"] or None,
                         password=db["PASSWORD"] or None, host=db["HOST"] or None,
                         port=db["PORT"] or None) as maintenance:
        assert maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                   [name]).fetchone() is None
