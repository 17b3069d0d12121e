"""The studio's job list and the API's read about a page of jobs, however long a person's
history: with 3000 past jobs (bench/studio.py times 10,000) each query's plan, after ANALYZE,
reads a page's worth of rows, the queue positions on the page included."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django.test import Client

from accounts.api_keys import create_key
from bench.studio import insert_jobs
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
    cursor = base64.urlsafe_b64encode(f"{created.isoformat()}|{job_id}".encode()).decode()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {create_key(long_history, 'plans').secret}")
    for url in ("/api/v1/jobs", f"/api/v1/jobs?cursor={cursor}"):
        read = rows_read(api, url, table="generation_job")
        assert read and max(read.values()) <= ROWS_PER_PAGE, url + over(read, ROWS_PER_PAGE)
