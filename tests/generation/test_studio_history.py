"""The studio's job list as history: waiting and running jobs on top, then finished ones a page
at a time, each a poster that plays on hover; only the newest result gets a player."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import Job, JobStatus
from generation.queries import HISTORY_PAGE, recent_jobs
from tests.jobs import make_job
from tests.processes import service_env
from tests.videos import make_video

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
ROOT = Path(__file__).resolve().parents[2]


def _finished(owner, count: int) -> list[Job]:
    """`count` finished jobs with videos, the first the newest."""
    jobs = []
    for number in range(count):
        job = make_video(owner, prompt=f"finished clip {number}").job
        Job.objects.filter(pk=job.pk).update(
            created_at=timezone.now() - timedelta(minutes=number + 1))
        jobs.append(job)
    return jobs


def _cards(html: str) -> list[str]:
    return re.findall(r'<article id="job-([0-9a-f-]+)"', html)


def _more_url(html: str) -> str | None:
    found = re.search(r'hx-get="([^"]*\?after=[^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_thirty_finished_jobs_show_one_page_of_posters_and_a_show_more(owner_client, owner):
    jobs = _finished(owner, 30)
    page = owner_client.get(reverse("studio")).content.decode()
    assert _cards(page) == [str(job.id) for job in jobs[:HISTORY_PAGE]]
    videos = re.findall(r"<video\b[^>]*>", page)
    assert len(videos) == HISTORY_PAGE
    with_src = [tag for tag in videos if re.search(r'\ssrc="', tag)]
    # The newest result has a player (metadata only); the history loads nothing until hovered.
    assert len(with_src) == 1 and 'preload="metadata"' in with_src[0]
    assert all('preload="none"' in tag and "data-src=" in tag
               for tag in videos if tag not in with_src)
    assert f'href="/videos/{jobs[1].video.id}/"' in page
    assert "Show more" in page


def test_show_more_brings_the_next_pages_until_there_are_no_more(owner_client, owner):
    jobs = _finished(owner, 30)
    page = owner_client.get(reverse("studio")).content.decode()
    seen = _cards(page)
    while (url := _more_url(page)) is not None:
        page = owner_client.get(url, **HTMX).content.decode()
        assert "<html" not in page and 'id="generation-form"' not in page  # only the cards
        assert not re.search(r'<video\b[^>]*\ssrc="', page)
        seen += _cards(page)
    assert seen == [str(job.id) for job in jobs]


def test_waiting_and_running_jobs_are_always_on_top(owner_client, owner):
    _finished(owner, 20)
    old_running = make_job(owner, status=JobStatus.RUNNING)
    old_waiting = make_job(owner)
    Job.objects.filter(pk__in=[old_running.pk, old_waiting.pk]).update(
        created_at=timezone.now() - timedelta(days=3))
    cards = _cards(owner_client.get(reverse("studio")).content.decode())
    assert set(cards[:2]) == {str(old_running.id), str(old_waiting.id)}
    assert len(cards) == 2 + HISTORY_PAGE


def test_a_job_finishing_meanwhile_does_not_shift_the_next_page(owner):
    jobs = _finished(owner, 14)
    first = recent_jobs(owner)
    assert first.more == str(jobs[HISTORY_PAGE - 1].id)
    make_video(owner, prompt="finished after the first page was shown")
    rest = recent_jobs(owner, after=first.more)
    assert [job.id for job in rest] == [job.id for job in jobs[HISTORY_PAGE:]]
    assert rest.more is None


def test_another_persons_job_is_no_page_cursor(owner, stranger):
    _finished(owner, 14)
    theirs = _finished(stranger, 1)[0]
    assert list(recent_jobs(owner, after=str(theirs.id))) == []
    assert list(recent_jobs(owner, after="not-a-job")) == []


def test_the_form_offers_the_persons_last_distinct_prompts(owner_client, owner, stranger):
    for prompt in ("a fox", "a heron", "a fox", "an owl"):
        make_job(owner, prompt=prompt)
    make_job(stranger, prompt="someone else's secret")
    page = owner_client.get(reverse("studio")).content.decode()
    offered = re.findall(r'<option value="([^"]*)">', page.split("data-recent-prompts", 1)[1]
                         .split("</select>", 1)[0])
    assert offered == ["", "an owl", "a fox", "a heron"]
    assert "someone else" not in page


@pytest.mark.parametrize(("before", "after"), [
    (JobStatus.QUEUED, JobStatus.RUNNING),     # a worker starts it
    (JobStatus.RUNNING, JobStatus.SUCCEEDED),  # it finishes
])
def test_a_job_changing_state_while_the_list_is_read_is_listed_once(owner, before, after):
    """The list is read in one snapshot. A worker starting (or finishing) a job right after the
    list's first read must not drop its card from a page (or show it twice): the page's
    socket then sends steps and results to a card the page does not have."""
    job = make_job(owner, status=before)
    moved = []

    def worker_moves_the_job(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not moved and "generation_job" in sql:
            moved.append(True)  # between this read and the next
            Job.objects.filter(pk=job.pk).update(status=after)
        return result

    from django.db import connection

    with connection.execute_wrapper(worker_moves_the_job):
        listed = [j.id for j in recent_jobs(owner)]
    assert listed == [job.id]


SQLITE_JOB_LIST = """
from django.contrib.auth import get_user_model
from generation.models import JobStatus
from generation.queries import recent_jobs
from tests.jobs import make_job
owner = get_user_model().objects.create_user("sqlite-owner", password="pw-12345678")
waiting = make_job(owner)
done = make_job(owner, status=JobStatus.SUCCEEDED)
print([str(job.id) for job in recent_jobs(owner)] == [str(waiting.id), str(done.id)])
"""


def test_the_job_list_reads_on_sqlite_the_embedded_default(tmp_path):
    # `make run` without DATABASE_URL stores in SQLite, which refuses ORDER BY and LIMIT on a
    # part of a UNION: the studio answered 500 there while PostgreSQL was fine.
    env = {**service_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", SQLITE_JOB_LIST]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("True"), result.stdout + result.stderr
