"""Real processes for tests: a Celery worker and the ASGI web server, on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def test_database_url() -> str:
    """The URL of the database the tests use now, for processes the tests start."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL,
               FRAMECRAFT_DATA_DIR=str(settings.DATA_DIR),
               FRAMECRAFT_MEDIA_ROOT=str(settings.MEDIA_ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Service:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.process.wait()
        self._log.close()


def start_worker(log_path: Path, queues: str | None = None, **env: str) -> Service:
    worker = Service(
        [sys.executable, "-m", "celery", "-A", "webapp", "worker", "--beat",
         "--schedule", str(log_path.with_suffix(".beat")), "--pool", "prefork",
         "--concurrency", "1", "--queues",
         queues or f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_HOUSEKEEPING_QUEUE}",
         "--hostname", f"test-{os.getpid()}@%h", "--loglevel", "INFO", "--without-mingle",
         "--without-gossip"],
        service_env(**env), log_path,
    )
    wait_for(lambda: "ready." in worker.log() or worker.process.poll() is not None, 60,
             "the worker to start")
    assert worker.process.poll() is None, worker.log()
    return worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(log_path: Path, port: int, **env: str) -> Service:
    web = Service(
        [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1",
         "--port", str(port)],
        service_env(**env), log_path,
    )

    def listening() -> bool:
        assert web.process.poll() is None, web.log()
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, 60, "the web server to listen")
    return web


@contextlib.contextmanager
def slowed_down(pid: int, running_s: float = 0.02, stopped_s: float = 0.2):
    """Run a process at a tenth of its speed (SIGSTOP and SIGCONT in turn, as cpulimit does),
    so that a tiny job on a fast machine still lasts long enough to be watched."""
    import threading

    done = threading.Event()

    def throttle() -> None:
        while not done.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            done.wait(stopped_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            done.wait(running_s)

    thread = threading.Thread(target=throttle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
