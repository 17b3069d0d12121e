"""The studio page and the job lists with 10,000 past jobs for one person (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/framecraft_bench \\
        .venv/bin/python bench/studio.py [--jobs 1000,10000] [--requests 200] [--rounds 3] \\
        [--plans] [--drop]

Creates and migrates the database when missing (bench/studio_db.py), then gives one person
(bench-studio) past jobs through SQL (``generate_series``: mostly finished with a video, some
failed or cancelled), a running job and two waiting ones, and 50 other people's waiting jobs
(the queue positions on the page are counted over everyone's). At each size it times, through
Django's test client (the whole view stack, no network: server time), the studio page, its
"Show more" page (htmx) near the start and in the middle of the history, and the API's job
list (``GET /api/v1/jobs`` with a key, first and a deep cursor), and prints p50/p95, queries
per request and (``--plans``) the plan of each request's slowest query on the jobs table.
``--drop`` drops the database at the end.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERSON = "bench-studio"
TARGET_MS = 50.0

_JOBS = """
INSERT INTO generation_job (id, owner_id, kind, preset, params, origin, status,
    status_sequence, attempts, cancel_requested, progress_step, progress_total, error_code,
    error_message, worker, gpus, created_at, started_at, finished_at, updated_at, timings)
SELECT gen_random_uuid(), %(owner)s, 't2v', 'tiny',
    jsonb_build_object('prompt', 'a lighthouse in a storm, take ' || n, 'seed', n,
                       'width', 128, 'height', 128, 'num_frames', 17, 'steps', 2,
                       'guidance', 5.0, 'negative_prompt', '', 'speed', 'quality'),
    'new', CASE WHEN n %% 20 = 7 THEN 'failed' WHEN n %% 20 = 13 THEN 'cancelled'
                ELSE 'succeeded' END,
    3, 1, false, 2, 2, CASE WHEN n %% 20 = 7 THEN 'error' ELSE '' END,
    CASE WHEN n %% 20 = 7 THEN 'The worker ran out of memory.' ELSE '' END, 'bench', 1,
    %(start)s - make_interval(secs => n * 60), %(start)s - make_interval(secs => n * 60 - 5),
    %(start)s - make_interval(secs => n * 60 - 30), %(start)s - make_interval(secs => n * 60),
    '{}'::jsonb
FROM generate_series(%(first)s, %(last)s) AS n
"""
_VIDEOS = """
INSERT INTO generation_video (id, owner_id, job_id, file, poster, width, height, fps,
    frame_count, duration_s, size_bytes, recipe, created_at, kind, preset, prompt,
    is_favourite, visibility, view_count)
SELECT gen_random_uuid(), job.owner_id, job.id, 'videos/bench/' || job.id || '.mp4',
    'posters/bench/' || job.id || '.jpg', 128, 128, 8, 17, 2.1, 100000, job.params,
    job.finished_at, 't2v', 'tiny', job.params ->> 'prompt', false, 'private', 0
FROM generation_job AS job LEFT JOIN generation_video AS made ON made.job_id = job.id
WHERE job.owner_id = %(owner)s AND job.status = 'succeeded' AND made.id IS NULL
"""


def insert_jobs(owner_id: int, first: int, last: int) -> None:
    """Past jobs number `first`…`last` of the owner, a minute apart going back from now (one
    in twenty failed, one cancelled, the rest succeeded, each with its video)."""
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(_JOBS, {"owner": owner_id, "start": timezone.now(), "first": first,
                               "last": last})
        cursor.execute(_VIDEOS, {"owner": owner_id})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1000,10000",
                        help="past job counts to measure at, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case")
    parser.add_argument("--plans", action="store_true", help="print every case's plan")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    sizes = sorted(int(size.replace("_", "")) for size in args.jobs.split(","))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    # Hundreds of timed requests a minute on one key: the speed is measured, not the limit.
    os.environ.setdefault("FRAMECRAFT_API_RATE", "100000/m")
    import django

    django.setup()
    from bench.studio_db import drop_database, ready_studio

    try:
        with ready_studio():
            run(sizes, args)
    finally:
        if args.drop:
            drop_database()


def run(sizes: list[int], args: argparse.Namespace) -> None:
    from django.db import connection

    from accounts.api_keys import create_key
    from accounts.models import User
    from bench.gallery import FLAT, measure_cases
    from generation.models import Job, JobStatus

    if connection.vendor != "postgresql":
        raise SystemExit("bench/studio.py needs PostgreSQL")
    person, _ = User.objects.get_or_create(username=PERSON,
                                           defaults={"email": "studio@example.com"})
    # The person's limit is not what is measured: their waiting jobs are made directly.
    if not Job.objects.filter(owner=person, status__in=["queued", "running"]).exists():
        Job.objects.create(owner=person, preset="tiny", params={"prompt": "running now"},
                           status=JobStatus.RUNNING, progress_total=8, progress_step=3)
        for n in range(2):
            Job.objects.create(owner=person, preset="tiny", params={"prompt": f"waiting {n}"})
        for n in range(50):
            other, _ = User.objects.get_or_create(username=f"bench-waiting-{n}")
            Job.objects.create(owner=other, preset="tiny", params={"prompt": "theirs"})
    secret = create_key(person, f"bench {time.time():.0f}").secret
    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        have = Job.objects.filter(owner=person).exclude(
            status__in=["queued", "running"]).count()
        if have < size:
            started = time.perf_counter()
            insert_jobs(person.pk, have, size - 1)
            print(f"filled past jobs {have} → {size} in {time.perf_counter() - started:.0f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE generation_job")
            cursor.execute("VACUUM ANALYZE generation_video")
        cases = _cases(person, secret)
        print(f"\n== {size} past jobs for one person (and 3 active, 50 others waiting) on "
              f"postgresql; {args.rounds} rounds × {args.requests} requests per case, server "
              "time through Django's test client ==", flush=True)
        results[size] = measure_cases(cases, args.requests, args.rounds, args.plans,
                                      table="generation_job")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\np95 at {large} past jobs over p95 at {small}:")
        for label, p95 in results[large].items():
            ratio = p95 / results[small][label]
            print(f"  {label:34s} {results[small][label]:6.1f} → {p95:6.1f} ms  "
                  f"{ratio:4.2f}×  {'flat' if ratio <= FLAT else 'grows'}")


def _cases(person: Any, secret: str) -> dict[str, tuple[Any, float]]:
    """label → (one request, target p95 ms)."""
    from django.test import Client

    from generation.models import Job

    history = list(Job.objects.filter(owner=person, status="succeeded")
                   .order_by("-created_at", "-id").values_list("id", "created_at"))
    near, middle = history[11], history[len(history) // 2]
    deep = base64.urlsafe_b64encode(
        f"{middle[1].isoformat()}|{middle[0]}".encode()).decode()
    client, api = Client(), Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.force_login(person)
    htmx = {"HTTP_HX_REQUEST": "true"}
    return {
        "studio page": (lambda: client.get("/studio/"), TARGET_MS),
        "show more, second page (htmx)": (
            lambda: client.get(f"/studio/?after={near[0]}", **htmx), TARGET_MS),
        "show more, middle (htmx)": (
            lambda: client.get(f"/studio/?after={middle[0]}", **htmx), TARGET_MS),
        "API job list, first page": (lambda: api.get("/api/v1/jobs"), TARGET_MS),
        "API job list, deep cursor": (
            lambda: api.get(f"/api/v1/jobs?cursor={deep}"), TARGET_MS),
    }


if __name__ == "__main__":
    main()
