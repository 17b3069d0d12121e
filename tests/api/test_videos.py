"""Videos through the API: recipe, lineage, ranged files, delete, sharing."""

from __future__ import annotations

import os

import pytest

from generation.models import InputRole, JobInput, Video
from tests.api.conftest import assert_problem
from tests.i2v.helpers import image_upload
from tests.videos import FAKE_MP4, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_video_has_its_recipe_lineage_and_file_urls(api, owner):
    source = make_video(owner, prompt="the source")
    video = make_video(owner, prompt="the remix")
    start = image_upload(owner)
    JobInput.objects.create(job=video.job, role=InputRole.START_IMAGE, upload=start)
    JobInput.objects.create(job=video.job, role=InputRole.REMIX_OF, video=source)
    body = api.get(f"videos/{video.id}").json()
    assert body["recipe"]["prompt"] == "the remix" and body["job_id"] == str(video.job_id)
    assert body["lineage"]["remix_of"] == str(source.id)
    assert body["lineage"]["inputs"] == [{"role": "start_image", "position": 0,
                                          "upload_id": str(start.id), "video_id": None,
                                          "subject_id": None, "strength": None,
                                          "expert": None}]
    assert body["file_url"].endswith(f"/api/v1/videos/{video.id}/file")
    assert body["visibility"] == "private" and body["share_url"] is None


def test_the_file_is_served_with_byte_ranges_to_the_key_only(api, owner):
    video = make_video(owner)
    url = api.get(f"videos/{video.id}").json()["file_url"]
    whole = api.get(url.split("testserver")[1])
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == FAKE_MP4
    part = api.client.get(f"/api/v1/videos/{video.id}/file",
                          headers={**api.headers, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(FAKE_MP4)}"
    assert b"".join(part.streaming_content) == FAKE_MP4[10:20]
    head = api.client.head(f"/api/v1/videos/{video.id}/file", headers=api.headers)
    assert head.status_code == 200 and head["Content-Length"] == str(len(FAKE_MP4))
    assert head["Accept-Ranges"] == "bytes" and not head.content
    poster = api.get(f"videos/{video.id}/poster")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"


def test_sharing_makes_a_link_and_private_revokes_it(api, owner):
    video = make_video(owner)
    body = api.put(f"videos/{video.id}/sharing", {"visibility": "unlisted", "expires": "7d"})
    assert body.status_code == 200, body.content
    shared = body.json()
    assert shared["visibility"] == "unlisted" and "/s/" in shared["share_url"]
    assert shared["share_expires_at"] is not None
    slug = shared["share_url"].rstrip("/").rsplit("/", 1)[1]
    assert api.client.get(f"/s/{slug}/").status_code == 200  # the link works signed out
    private = api.put(f"videos/{video.id}/sharing", {"visibility": "private"}).json()
    assert private["share_url"] is None
    assert api.client.get(f"/s/{slug}/").status_code == 404
    assert_problem(api.put(f"videos/{video.id}/sharing", {"visibility": "everyone"}), 422,
                   "invalid")


def test_delete_removes_the_video_and_its_file(api, owner, django_capture_on_commit_callbacks):
    video = make_video(owner)
    path = video.file.path
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"videos/{video.id}")
    assert response.status_code == 204
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not os.path.exists(path)
    assert_problem(api.get(f"videos/{video.id}"), 404, "not_found")


def test_videos_list_pages(api, owner):
    made = [make_video(owner, prompt=f"v{n}") for n in range(3)]
    first = api.get("videos?limit=2").json()
    rest = api.get(f"videos?limit=2&cursor={first['next_cursor']}").json()
    assert {v["id"] for v in first["items"] + rest["items"]} == {str(v.id) for v in made}
    assert rest["next_cursor"] is None
