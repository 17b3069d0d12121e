"""`make run` on a fresh checkout: embedded defaults, serves the sign-in page, stops on Ctrl-C."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_page(url: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "make run exited early"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _worker_ready(log_path: Path, name: str) -> bool:
    """Celery logs "<name>@<host> ready." once a worker takes tasks."""
    return any(f"{name}@" in line and "ready." in line
               for line in log_path.read_text().splitlines())


def _reaped(log_path: Path) -> bool:
    return any("Task framecraft.reap_stale_jobs[" in line and "succeeded" in line
               for line in log_path.read_text().splitlines())


def test_make_run_serves_the_sign_in_page_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(FRAMECRAFT_PORT=str(port), FRAMECRAFT_DATA_DIR=str(tmp_path / "var"))
    log = (tmp_path / "make-run.log").open("w+")
    process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/accounts/login/", process, 120)
        assert "Sign in" in page
        assert (tmp_path / "var" / "db.sqlite3").exists()
        # Workers for jobs, weight installs and webhooks, so none waits behind another.
        log_path = tmp_path / "make-run.log"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(
                _worker_ready(log_path, name) for name in ("generation", "models", "webhooks")):
            time.sleep(0.5)
        for name in ("generation", "models", "webhooks"):
            assert _worker_ready(log_path, name), f"the {name} worker did not start"
        # The scheduler's first reap, run by the webhooks worker (the only one on its queue).
        wait = time.monotonic() + 30
        while time.monotonic() < wait and not _reaped(log_path):
            time.sleep(0.5)
        assert _reaped(log_path), "no worker ran the reaper"
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    log.seek(0)
    output = log.read()
    assert f"running at http://127.0.0.1:{port}/" in output
    assert "Stopped." in output
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web server is still listening"
