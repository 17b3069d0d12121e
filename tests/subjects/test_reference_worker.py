"""A reference-driven job end to end: the studio's "With a subject" form with @name, a real
Celery worker on the CPU running a tiny Wan VACE checkpoint through the production loader,
the video's page and recipe naming the subject as it was, and deleting the subject keeping
the video."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from django.urls import reverse

from generation.models import InputRole, Job, JobInput, JobStatus, Subject, Video
from tests.conftest import csrf_post
from tests.processes import start_worker, wait_for
from tests.subjects.conftest import grant, make_subject, personalize_data

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(vace: Path, tmp_path: Path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    service = start_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(vace),
                           FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    yield service
    service.stop()


def test_a_granted_subject_drives_a_vace_job_on_the_real_worker(client, owner, friend,
                                                                worker):
    rex = make_subject(owner, "Rex", kind="object", photos=2)
    grant(rex, friend)
    client.force_login(friend)
    client.get(reverse("studio"))
    response = csrf_post(client, reverse("submit_job"),
                         personalize_data(prompt="@rex runs along a beach"),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=friend)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, 240, "the reference-driven job")
    assert job.status == JobStatus.SUCCEEDED, (job.error_message, worker.log())
    video = Video.objects.get(job=job)
    assert (video.width, video.height, video.frame_count) == (832, 480, 5)
    with video.file.open("rb") as stream, av.open(stream) as container:
        recipe = json.loads(container.metadata["comment"])
        assert sum(1 for _ in container.decode(video=0)) == 5
    assert recipe["subjects"] == video.recipe["subjects"] == [{"name": "Rex",
                                                               "kind": "object"}]
    rows = JobInput.objects.filter(job=job, role=InputRole.REFERENCE).order_by("position")
    assert [(r.subject_id, r.upload_id) for r in rows] == [
        (rex.id, p.original_id) for p in rex.photos.all()]

    # Renamed and then deleted, the subject is still named as it was on the video's page.
    Subject.objects.filter(pk=rex.pk).update(name="Rover")
    owner_client = client.__class__(enforce_csrf_checks=True)
    owner_client.force_login(owner)
    owner_client.get(reverse("subjects"))
    assert csrf_post(owner_client, reverse("delete_subject", args=[rex.id])).status_code == 302
    page = client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "@Rex (object)" in page and "Reference image of" in page
    assert Video.objects.filter(pk=video.pk).exists()
    assert set(JobInput.objects.filter(job=job).values_list("subject_name", flat=True)) == {
        "Rex"}
