"""Strangers get 404 for everything that is not theirs."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.models import Job, JobStatus, Video
from tests.jobs import make_job


@pytest.fixture
def video(owner):
    job = make_job(owner, status=JobStatus.SUCCEEDED)
    video = Video(owner=owner, job=job, width=128, height=128, fps=8, frame_count=5,
                  duration_s=0.6, size_bytes=4, recipe={})
    video.file.save("v.mp4", ContentFile(b"mp4!"), save=False)
    video.poster.save("p.jpg", ContentFile(b"jpg!"), save=False)
    video.save()
    return video


@pytest.mark.parametrize("name", ["video_file", "video_poster", "video_download"])
def test_it_requires_the_owner_for_media(stranger_client, owner_client, video, name):
    assert stranger_client.get(reverse(name, args=[video.id])).status_code == 404
    response = owner_client.get(reverse(name, args=[video.id]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) in (b"mp4!", b"jpg!")
    assert "private" in response["Cache-Control"]


def test_media_is_not_served_from_a_public_url(client, video):
    assert client.get("/media-not-public/" + video.file.name).status_code == 404


def test_it_requires_the_owner_for_a_job_card(stranger_client, owner_client, owner):
    job = make_job(owner)
    assert stranger_client.get(reverse("job_card", args=[job.id])).status_code == 404
    assert owner_client.get(reverse("job_card", args=[job.id])).status_code == 200


@pytest.mark.parametrize("name", ["cancel_job", "retry_job"])
def test_it_requires_the_owner_to_act_on_a_job(stranger_client, owner, name):
    job = make_job(owner, status=JobStatus.FAILED if name == "retry_job" else JobStatus.QUEUED)
    stranger_client.get(reverse("studio"))
    response = stranger_client.post(reverse(name, args=[job.id]), {
        "csrfmiddlewaretoken": stranger_client.cookies["csrftoken"].value})
    assert response.status_code == 404
    assert Job.objects.count() == 1
    job.refresh_from_db()
    assert job.status in (JobStatus.FAILED, JobStatus.QUEUED)


def test_the_studio_lists_only_your_own_jobs(owner_client, owner, stranger):
    mine = make_job(owner, prompt="my own prompt")
    theirs = make_job(stranger, prompt="someone else's prompt")
    page = owner_client.get(reverse("studio")).content.decode()
    assert str(mine.id) in page
    assert str(theirs.id) not in page
