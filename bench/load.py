"""Many signed-in people at once: Locust against uvicorn with the real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/framecraft \\
    REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load.py [--users 300] [--minutes 5] [--spawn-rate 5] \\
        [--jobs-each 1] [--drain-minutes 5] [--web-processes 2] [--db-pool 10] \\
        [--database framecraft_load] [--redis-db 9] [--drop]

    short run: .venv/bin/python bench/load.py --users 30 --minutes 1

Needs the bench extra (``pip install -e '.[bench]'``: Locust). It makes the database when
missing (bench/studio_db.py) and migrates it, gives each person a session (signed in, as after
the sign-in form: the form itself is rate-limited per address and hashes a password per
person), starts uvicorn with ``--web-processes`` worker processes on one port (about one per
core: the kernel spreads the connections), each with a pool of at most ``--db-pool``
PostgreSQL connections (FRAMECRAFT_DB_POOL_SIZE: without it every request in flight holds one,
and a few hundred people exhaust max_connections), and one real worker (tests/processes.py's
start_worker: prefork, concurrency 1, the tiny built-in model), and runs Locust
headless on bench/locustfile.py: every person opens the studio's websocket and browses while
submitting tiny jobs through the studio's form (one at a time, ``--jobs-each`` each), for
``--minutes``; then they wait, sockets open, until each of their jobs is shown done.

It prints Locust's page times (p50/p95 per page, and all pages together), each process's CPU
over the run (uvicorn, the worker and its child, Locust itself, PostgreSQL and Redis: which one
saturates first), and checks what must hold: no answer of 500 or more; every accepted job
succeeded with one attempt and one video; every socket showed the final state of each of its
person's jobs and never named anyone else's job. It uses the servers those URLs name but a
database of its own on each (``--database``, ``--redis-db``): the Redis one is emptied at the
end, the PostgreSQL one dropped with ``--drop``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE_TARGET_MS = 250.0
PREFIX = "load-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=5.0, help="browsing and submitting")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="people joining a second")
    parser.add_argument("--jobs-each", type=int, default=1, help="tiny jobs per person")
    parser.add_argument("--think", default="1,3",
                        help="seconds a person waits between two requests: MIN,MAX")
    parser.add_argument("--drain-minutes", type=float, default=5.0,
                        help="how long people wait at the end for their jobs to be shown done")
    parser.add_argument("--web-processes", type=int, default=os.cpu_count() or 1,
                        help="uvicorn worker processes (default: one per core)")
    parser.add_argument("--db-pool", type=int, default=10,
                        help="PostgreSQL connections per web process at most (0: no pool)")
    parser.add_argument("--database", default="framecraft_load",
                        help="the database made on DATABASE_URL's server for the run")
    parser.add_argument("--redis-db", type=int, default=9,
                        help="the Redis database number to use (emptied at the end)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    import importlib.util

    if importlib.util.find_spec("locust") is None:
        parser.error("Locust is missing: pip install -e '.[bench]'")
    if args.db_pool and importlib.util.find_spec("psycopg_pool") is None:
        parser.error("--db-pool needs psycopg's pool: pip install 'psycopg[pool]'")
    if args.redis_db == 0:
        parser.error("--redis-db 0 is everyone's default database; pick one of its own")
    # A database of its own on the configured server: the run makes hundreds of people and
    # jobs, which belong in no one's working database.
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    if not server.startswith("postgres"):
        parser.error("bench/load.py needs PostgreSQL: set DATABASE_URL to a postgres:// URL")
    os.environ["DATABASE_URL"] = f"{server.rsplit('/', 1)[0]}/{args.database}"
    # A Redis database of its own (broker, channel layer, cache): other runs on the same
    # server never take this run's jobs, and it is emptied at the end.
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    os.environ["REDIS_URL"] = f"{base}/{args.redis_db}"
    work = Path(tempfile.mkdtemp(prefix="framecraft-load-"))
    # The same settings for this process (which makes the sessions: they carry a hash keyed on
    # the secret) and the servers it starts. DEBUG stays as `make run` has it: off, static
    # files need a collectstatic into the source tree; its cost here is small (each request's
    # queries kept in a list until the request ends).
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DJANGO_SECRET_KEY": "bench-load-" + "x" * 40, "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "FRAMECRAFT_PROGRESS_INTERVAL": "0.5",
        "FRAMECRAFT_DATA_DIR": str(work), "FRAMECRAFT_MEDIA_ROOT": str(work / "media")})
    import django

    django.setup()
    from bench.studio_db import drop_database, ensure_database

    ensure_database()
    try:
        run(args, work)
    finally:
        _empty_redis()
        shutil.rmtree(work / "media", ignore_errors=True)
        if args.drop:
            drop_database()


def run(args: argparse.Namespace, work: Path) -> None:
    from django.core.management import call_command

    from tests.processes import free_port, start_worker

    call_command("migrate", verbosity=0)
    people = make_people(args.users)
    (work / "people.json").write_text(json.dumps(people))
    port = free_port()
    web = start_web(work / "web.log", port, args.web_processes, args.db_pool)
    worker = start_worker(work / "worker.log")
    locust = None
    try:
        run_s = args.minutes * 60
        drain_s = args.drain_minutes * 60
        locust_env = {**os.environ, "FRAMECRAFT_LOAD_PEOPLE": str(work / "people.json"),
                      "FRAMECRAFT_LOAD_RESULTS": str(work / "results.json"),
                      "FRAMECRAFT_LOAD_JOBS": str(args.jobs_each),
                      "FRAMECRAFT_LOAD_THINK": args.think,
                      "FRAMECRAFT_LOAD_RUN_S": str(run_s),
                      "FRAMECRAFT_LOAD_DRAIN_S": str(drain_s)}
        print(f"{args.users} people, {args.minutes:g} min of browsing and submitting "
              f"({args.jobs_each} tiny job each, {args.think} s between requests), then up "
              f"to {args.drain_minutes:g} min for "
              f"their jobs to finish; uvicorn on :{port} ({args.web_processes} processes, "
              f"{args.db_pool or 'no'} pooled connections each), logs in {work}", flush=True)
        started = time.monotonic()
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
             "--headless", "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
             "--run-time", f"{int(run_s + drain_s + 30)}s", "--stop-timeout", "30",
             "--host", f"http://127.0.0.1:{port}", "--csv", str(work / "locust"),
             "--only-summary", "--loglevel", "WARNING"],
            cwd=ROOT, env=locust_env, stdout=(work / "locust.log").open("wb"),
            stderr=subprocess.STDOUT)
        cpu = CpuWatch({"uvicorn (web)": [web.process.pid], "celery worker": [worker.process.pid],
                        "locust (the load itself)": [locust.pid]})
        cpu.start()
        locust.wait(run_s + drain_s + 120)
        cpu.stop()
        elapsed = time.monotonic() - started
        report(work, elapsed, cpu, args)
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
        worker.stop()
        web.stop()


def start_web(log_path: Path, port: int, processes: int, pool: int) -> Any:
    """uvicorn with `processes` worker processes on `port` (its supervisor forks them; they
    share the listening socket), each pooling at most `pool` PostgreSQL connections."""
    import socket

    from tests.processes import Service, service_env, wait_for

    web = Service(
        [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(processes),
         # Longer than a person's pause between pages: at uvicorn's 5 s a connection closed
         # as the next request went out on it (one "connection reset" in a 30-person run).
         "--timeout-keep-alive", "65"],
        service_env(FRAMECRAFT_DB_POOL_SIZE=str(pool)), log_path)

    def all_serving() -> bool:
        assert web.process.poll() is None, web.log()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return False
        # The supervisor listens first; count the processes that finished starting.
        return web.log().count("Application startup complete") >= processes

    wait_for(all_serving, 120, f"{processes} web processes to serve")
    return web


def make_people(count: int) -> list[dict[str, str]]:
    """`count` people (load-0 …), each with a signed-in session in the session store."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from accounts.models import User

    store = import_module(settings.SESSION_ENGINE).SessionStore

    existing = set(User.objects.filter(username__startswith=PREFIX)
                   .values_list("username", flat=True))
    User.objects.bulk_create([
        User(username=f"{PREFIX}{n}", email=f"{PREFIX}{n}@example.com", password="!")
        for n in range(count) if f"{PREFIX}{n}" not in existing])
    people = []
    for user in User.objects.filter(username__startswith=PREFIX).order_by("pk")[:count]:
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        people.append({"name": user.username, "session": session.session_key or ""})
    return people


class CpuWatch(threading.Thread):
    """Each process's CPU time over the run (its children included: the worker's pool), and
    PostgreSQL's and Redis's servers, found by name. 100 % is one core."""

    def __init__(self, named: dict[str, list[int]]) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.named = named
        self.halt = threading.Event()
        self.used: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.seconds = 0.0

    def _groups(self) -> dict[str, list[Any]]:
        psutil = self.psutil
        groups: dict[str, list[Any]] = {}
        for label, pids in self.named.items():
            procs = []
            for pid in pids:
                try:
                    top = psutil.Process(pid)
                    procs += [top, *top.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
            groups[label] = procs
        for label, name in (("postgres (all backends)", "postgres"),
                            ("redis-server", "redis-server")):
            groups[label] = [proc for proc in psutil.process_iter(["name"])
                             if proc.info["name"] == name]
        return groups

    @staticmethod
    def _cpu(proc: Any) -> float:
        try:
            times = proc.cpu_times()
            return times.user + times.system
        except Exception:
            return 0.0

    def run(self) -> None:
        seen: dict[int, float] = {}
        started = time.monotonic()
        last = started
        while not self.halt.wait(2.0):
            now = time.monotonic()
            for label, procs in self._groups().items():
                step = 0.0
                for proc in procs:
                    total = self._cpu(proc)
                    step += max(0.0, total - seen.get(proc.pid, total))
                    seen[proc.pid] = total
                self.used[label] = self.used.get(label, 0.0) + step
                self.peak[label] = max(self.peak.get(label, 0.0), step / (now - last) * 100)
            last = now
        self.seconds = time.monotonic() - started

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def report(work: Path, elapsed: float, cpu: CpuWatch, args: argparse.Namespace) -> None:
    from generation.models import Job, JobStatus, Video

    results = json.loads((work / "results.json").read_text())
    people: dict[str, dict[str, Any]] = results["people"]
    with (work / "locust_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    print(f"\nran {elapsed:.0f} s with {len(people)} people connected; page times (Locust, "
          "client side, on the same 2-core machine):")
    pages, failed = None, 0
    for row in rows:
        label = row["Name"] if row["Name"] != "Aggregated" else "all requests"
        print(f"  {label:24s} {int(row['Request Count']):6d} requests  p50 {row['50%']:>6} ms"
              f"  p95 {row['95%']:>6} ms  p99 {row['99%']:>6} ms  failures "
              f"{row['Failure Count']}")
        if row["Name"] == "Aggregated":
            pages, failed = float(row["95%"]), int(row["Failure Count"])
    print(f"\nCPU over the run (100 % = one core; {os.cpu_count()} cores):")
    for label, used in sorted(cpu.used.items(), key=lambda item: -item[1]):
        print(f"  {label:28s} {used / max(cpu.seconds, 1) * 100:5.0f} % average, "
              f"{cpu.peak.get(label, 0):5.0f} % at its busiest 2 s")
    submitted = {job: name for name, record in people.items() for job in record["submitted"]}
    jobs = {str(job.pk): job for job in Job.objects.filter(pk__in=list(submitted))}
    videos: dict[str, int] = {}
    for job_id in Video.objects.filter(job__in=list(submitted)).values_list("job_id", flat=True):
        videos[str(job_id)] = videos.get(str(job_id), 0) + 1
    not_once = [job for job in submitted if job not in jobs
                or jobs[job].status != JobStatus.SUCCEEDED or jobs[job].attempts != 1
                or videos.get(job) != 1]
    unseen = [job for job, name in submitted.items() if job not in people[name]["final"]]
    foreign = {name: [job for job in record["seen"] if submitted.get(job, name) != name]
               for name, record in people.items()}
    foreign = {name: jobs_ for name, jobs_ in foreign.items() if jobs_}
    broken = {name: record["socket_error"] for name, record in people.items()
              if record["socket_error"]}
    refused = sum(record["refused"] for record in people.values())
    print(f"\njobs: {len(submitted)} accepted, {refused} refused clearly (a limit), "
          f"{len(submitted) - len(not_once)} done exactly once (succeeded, one attempt, one "
          f"video)")
    checks = {
        f"page p95 ≤ {PAGE_TARGET_MS:.0f} ms (all requests: {pages} ms)":
            pages is not None and pages <= PAGE_TARGET_MS,
        f"no 5xx ({len(results['server_errors'])})": not results["server_errors"],
        f"no failed request ({failed}; see locust_failures.csv)": not failed,
        f"every person's jobs accepted ({len(submitted)} of {args.users * args.jobs_each})":
            len(submitted) == args.users * args.jobs_each,
        f"every accepted job done exactly once ({len(not_once)} not)": not not_once,
        f"every socket showed its jobs' final state ({len(unseen)} missed)": not unseen,
        f"no socket named anyone else's job ({len(foreign)} did)": not foreign,
        f"no socket broke ({len(broken)} did)": not broken,
        f"all {args.users} people connected": len(people) == args.users,
    }
    for label, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    for label, detail in (("not done once", not_once[:5]), ("unseen", unseen[:5]),
                          ("foreign", list(foreign.items())[:3]),
                          ("broken sockets", list(broken.items())[:3])):
        if detail:
            print(f"    {label}: {detail}")


def _empty_redis() -> None:
    from django.conf import settings

    if settings.REDIS_IS_EMBEDDED:
        return
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


if __name__ == "__main__":
    main()
