"""`make run`: the whole studio in one terminal (web server, worker, embedded Redis).

Starts each part as a child process in its own session, prints the URL, and on Ctrl-C (or
SIGTERM) stops them in order: the web server first, then the worker (given a moment to
finish its step), then the embedded Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django

STOP_TIMEOUT = 15.0


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, start_new_session=True)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def celery_worker(name: str, queues: str, *extra: str) -> list[str]:
    """The command for one Celery worker process running one task at a time."""
    return [sys.executable, "-m", "celery", "-A", "webapp", "worker", *extra, "--pool",
            "prefork", "--concurrency", "1", "--hostname", f"{name}@%h", "--queues", queues,
            "--loglevel", "INFO"]


def web_command(host: str, port: str, trusted_proxies: list[str], *,
                access_log: bool = False) -> list[str]:
    """uvicorn serving the site; forwarded headers are believed only from trusted_proxies."""
    return [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", host,
            "--port", port, "--proxy-headers", "--forwarded-allow-ips", ",".join(trusted_proxies),
            *([] if access_log else ["--no-access-log"])]


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from django.conf import settings

    from webapp import embedded_redis

    host = os.environ.get("FRAMECRAFT_HOST", "127.0.0.1")
    port = os.environ.get("FRAMECRAFT_PORT", "8000")
    env = dict(os.environ)
    redis_process = None
    if settings.REDIS_IS_EMBEDDED:
        redis_process = embedded_redis.start(Path(settings.DATA_DIR))
        print(f"Embedded Redis on {embedded_redis.socket_path(Path(settings.DATA_DIR))}")

    children = [
        _spawn(web_command(host, port, settings.FRAMECRAFT_TRUSTED_PROXIES), env),
        _spawn(celery_worker("generation", settings.CELERY_TASK_DEFAULT_QUEUE, "--beat",
                             "--schedule", str(Path(settings.DATA_DIR) / "celerybeat-schedule")),
               env),
        # Weight downloads get a worker of their own: an hour-long install must not hold up
        # the jobs waiting behind it.
        _spawn(celery_worker("models", settings.CELERY_MODELS_QUEUE), env),
        # Webhook deliveries (and their back-off) and housekeeping (the reaper) wait for
        # neither a job nor a download.
        _spawn(celery_worker("webhooks", f"{settings.CELERY_WEBHOOKS_QUEUE},"
                                         f"{settings.CELERY_HOUSEKEEPING_QUEUE}"), env),
    ]
    print(f"\n  Framecraft is running at http://{host}:{port}/  (Ctrl-C stops it)\n", flush=True)

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"A part of the studio stopped (exit {child.returncode}); stopping all.")
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)

    print("Stopping …", flush=True)
    for child in children:
        _stop(child)
    if redis_process is not None:
        _stop(redis_process)
    print("Stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
