"""bench/uploads.py runs end to end at a small size (its own database, a real uvicorn)."""

import secrets
import subprocess
import sys

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.processes import ROOT, service_env


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark is for PostgreSQL")
def test_the_uploads_benchmark_runs_small(tmp_path):
    db = connection.settings_dict
    name = f"fc_bench_{secrets.token_hex(4)}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"
    try:
        result = subprocess.run(
            [sys.executable, "bench/uploads.py", "--jpeg-mb", "0.3", "--mp4-mb", "1",
             "--requests", "1"],
            cwd=ROOT, env={**service_env(), "DATABASE_URL": url}, capture_output=True,
            text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        lines = result.stdout.splitlines()
        assert any(line.startswith("MP4 ") for line in lines), result.stdout
        assert any(line.startswith("JPEG ") for line in lines), result.stdout
    finally:
        db = connection.settings_dict
        with psycopg.connect(dbname="postgres", user=db["USER"] or None,
                             password=db["PASSWORD"] or None, host=db["HOST"] or None,
                             port=db["PORT"] or None, autocommit=True) as maintenance:
            maintenance.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
