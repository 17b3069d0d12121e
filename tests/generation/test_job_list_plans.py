"""The studio's job list and the API's read about a page of jobs, however long a person's
history: with 3000 past jobs (bench/studio.py times 10,000) each query's plan, after ANALYZE,
reads a page's worth of rows, the queue positions on the page included."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client

from accounts.api_keys import create_key
from bench.studio import insert_jobs
from generation import keyset
from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.plans import over, rows_read

# Committed rows (a transactional test), so that VACUUM can set the visibility map as
# autovacuum would on a live database: the fair queue's count of a person's latest starts is
# then an index-only scan.
pytestmark = [pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="the plans are PostgreSQL's"),
              pytest.mark.django_db(transaction=True)]

PAST_JOBS = 3000
ROWS_PER_PAGE = 200  # a page is 12 jobs (the API's 20); the whole history would be 3000
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def long_history(owner):
    insert_jobs(owner.pk, 0, PAST_JOBS - 1)
    Job.objects.create(owner=owner, preset="tiny", params={"prompt": "running"},
                       status=JobStatus.RUNNING)
    Job.objects.create(owner=owner, preset="tiny", params={"prompt": "waiting"})
    for n in range(5):
        Job.objects.create(owner=make_user(f"waiting-{n}"), preset="tiny",
                           params={"prompt": "theirs"})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE generation_job")
        cursor.execute("VACUUM ANALYZE generation_video")
    return owner


def _middle(owner):
    jobs = list(Job.objects.filter(owner=owner, status=JobStatus.SUCCEEDED)
                .order_by("-created_at", "-id").values_list("id", "created_at"))
    return jobs[len(jobs) // 2]


def test_the_studio_page_reads_a_page_of_jobs(long_history, owner_client):
    read = rows_read(owner_client, "/studio/", table="generation_job")
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)
    page = owner_client.get("/studio/").content.decode()
    assert "running" in page and "waiting" in page
    assert page.count("a lighthouse in a storm, take") >= 12


def test_show_more_deep_in_the_history_starts_at_its_job(long_history, owner_client):
    job_id, _ = _middle(long_history)
    read = rows_read(owner_client, f"/studio/?after={job_id}", table="generation_job", **HTMX)
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)


def test_the_api_job_list_deep_cursor_starts_at_its_job(long_history):
    job_id, created = _middle(long_history)
    cursor = keyset.cursor_of(created, job_id)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {create_key(long_history, 'plans').secret}")
    for url in ("/api/v1/jobs", f"/api/v1/jobs?cursor={cursor}"):
        read = rows_read(api, url, table="generation_job")
        assert read and max(read.values()) <= ROWS_PER_PAGE, url + over(read, ROWS_PER_PAGE)


def _rows_read_by(call, tables=("generation_job", "generation_video")):
    """For each query `call` makes on these tables: the rows its plan read from them."""
    from django.test.utils import CaptureQueriesContext

    from tests.plans import plan_nodes

    with CaptureQueriesContext(connection) as captured:
        result = call()
    read = {}
    for query in captured.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        read[query["sql"]] = sum(
            (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
             + node.get("Rows Removed by Index Recheck", 0)) * node.get("Actual Loops", 1)
            for node in plan_nodes(plan[0]["Plan"]) if node.get("Relation Name") in tables)
    return result, read


@pytest.fixture
def measured_history(long_history):
    """The 3000 past jobs finished on CPU workers with the timings a worker records, and 30
    old ones on an L4 (a kind that ran few of the model's jobs, long ago); a live worker of
    each kind, so that the studio estimates."""
    from django.utils import timezone

    from generation.models import WorkerState

    timings = {"load_s": 12.0, "encode_s": 0.5, "denoise_s": 4.0, "decode_s": 1.0,
               "store_s": 0.5}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE generation_job SET timings = %s::jsonb "
                       "WHERE status = 'succeeded'", [json.dumps(timings)])
        cursor.execute("""UPDATE generation_video SET recipe = recipe || jsonb_build_object(
                              'gpu', CASE WHEN rn > %s THEN 'NVIDIA L4' ELSE '' END)
                          FROM (SELECT id, row_number() OVER (ORDER BY created_at DESC) AS rn
                                FROM generation_video) AS ranked
                          WHERE ranked.id = generation_video.id""",
                       [Job.objects.filter(status=JobStatus.SUCCEEDED).count() - 30])
        cursor.execute("VACUUM ANALYZE generation_job")
        cursor.execute("VACUUM ANALYZE generation_video")
    now = timezone.now()
    WorkerState.objects.create(name="cpu@host:1", gpu_name="", gpu_total_gb=0.0, seen_at=now)
    WorkerState.objects.create(name="l4@host:1", gpu_name="NVIDIA L4", gpu_total_gb=24.0,
                               seen_at=now)
    return long_history


def test_the_time_estimate_reads_a_page_of_finished_jobs_not_the_history(measured_history):
    """generation.fleet._measure: the model's latest finished jobs on one kind of worker, for
    the kind that ran nearly all of them and for one that ran 30 of 2700, long ago."""
    from generation import fleet

    for kind in (fleet.WorkerKind(""), fleet.WorkerKind("NVIDIA L4")):
        found, read = _rows_read_by(lambda kind=kind: fleet._measure("tiny", kind))
        assert found is not None and found.jobs == fleet.MEASURED_JOBS, kind
        assert found.denoise_ratio > 0 and found.encode_s == pytest.approx(0.5)
        assert read and max(read.values()) <= 3 * fleet.MEASURED_JOBS, (kind, read)
    # Which kind finished the model's latest job: one probe per kind.
    estimator = fleet.Estimator()
    waiting = Job.objects.filter(status=JobStatus.QUEUED).first()
    kind, read = _rows_read_by(lambda: estimator.kind_for(waiting))
    assert kind == fleet.WorkerKind("")
    assert read and max(read.values()) <= 10, read


def test_the_studio_page_with_estimates_reads_a_page_of_jobs(measured_history, owner_client):
    for table in ("generation_job", "generation_video"):
        read = rows_read(owner_client, "/studio/", table=table)
        assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)
    page = owner_client.get("/studio/").content.decode()
    assert re.search(r"about \d+ s on (CPU|NVIDIA L4)", page), page
