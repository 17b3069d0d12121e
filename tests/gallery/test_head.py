"""HEAD answers like GET without a body: players and link-preview bots send it."""

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Video
from tests.videos import (
    FAKE_MP4,
    SHARED_VIEWS,
    assert_partial,
    make_video,
    revoke_a_link,
    share,
)

OWNED_MEDIA = [("video_file", "video/mp4"), ("video_poster", "image/jpeg"),
               ("video_download", "video/mp4")]
OWNED_PAGES = ["video_detail"]


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize(("name", "content_type"), OWNED_MEDIA)
def test_head_on_owned_media_gives_the_headers_and_no_body(owner_client, owner, name,
                                                           content_type):
    video = make_video(owner)
    url = reverse(name, args=[video.id])
    got = owner_client.get(url)
    head = owner_client.head(url)
    assert head.status_code == 200
    assert _body(head) == b""
    assert head["Content-Type"] == content_type == got["Content-Type"]
    assert head["Content-Length"] == got["Content-Length"] == str(len(_body(got)))
    assert head["Accept-Ranges"] == "bytes"
    assert "private" in head["Cache-Control"]
    if name == "video_download":
        assert head["Content-Disposition"] == got["Content-Disposition"]
        assert head["Content-Disposition"].startswith("attachment")


def test_head_with_a_range_gives_the_range_headers(owner_client, owner):
    video = make_video(owner)
    url = reverse("video_file", args=[video.id])
    head = owner_client.head(url, HTTP_RANGE="bytes=100-199")
    assert_partial(head, 100, 199)
    assert _body(head) == b""
    suffix = owner_client.head(url, HTTP_RANGE="bytes=-10")
    assert suffix.status_code == 206 and suffix["Content-Length"] == "10"
    beyond = owner_client.head(url, HTTP_RANGE=f"bytes={len(FAKE_MP4)}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(FAKE_MP4)}"


@pytest.mark.parametrize("name", [name for name, _ in OWNED_MEDIA] + OWNED_PAGES)
def test_a_stranger_gets_404_on_head(stranger_client, owner, name):
    video = make_video(owner)
    assert stranger_client.head(reverse(name, args=[video.id])).status_code == 404


@pytest.mark.parametrize("name", ["studio", "gallery", "explore", "profile"])
def test_head_on_pages(owner_client, name):
    response = owner_client.head(reverse(name))
    assert response.status_code == 200
    assert response.content == b""


def test_head_on_the_detail_page_and_the_form(owner_client, owner):
    video = make_video(owner)
    assert owner_client.head(reverse("video_detail", args=[video.id])).status_code == 200
    assert owner_client.head(reverse("generation_form")).status_code == 200


def test_head_on_a_shared_link_and_its_media(owner_client, owner):
    video = make_video(owner)
    share(owner_client, video, {"visibility": "public"})
    slug = video.share_slug
    bot = Client()
    page = bot.head(reverse("shared_video", args=[slug]))
    assert page.status_code == 200 and page.content == b""
    assert page["Content-Type"].startswith("text/html")
    for name, content_type in [("shared_file", "video/mp4"), ("shared_poster", "image/jpeg")]:
        head = bot.head(reverse(name, args=[slug]))
        assert head.status_code == 200, name
        assert head["Content-Type"] == content_type
        assert int(head["Content-Length"]) > 0
        assert _body(head) == b""
    assert bot.head(reverse("public_profile", args=[owner.username])).status_code == 200
    assert bot.head(reverse("explore")).status_code == 200
    # A bot's HEAD is not a view.
    assert Video.objects.get(pk=video.pk).view_count == 0


def test_head_on_a_revoked_link_is_404(owner_client, owner):
    slug = revoke_a_link(owner_client, make_video(owner))
    for name in SHARED_VIEWS:
        assert Client().head(reverse(name, args=[slug])).status_code == 404
