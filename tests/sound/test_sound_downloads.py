"""A video's sound goes wherever its file does: the studio's download, the API's file (what
the CLI saves), the share link; the pages say it has sound, strangers still get 404."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from generation.models import Visibility
from tests.api.conftest import ApiClient
from tests.editing.media import numbered_frames
from tests.sound.media import heard
from tests.sound.sources import RATE, sound_video

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def video(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return sound_video(owner, numbered_frames(16, 160, 96), fps=8)


def test_the_studio_download_and_the_api_file_carry_the_sound(owner_client, api: ApiClient,
                                                             video):
    for response in (owner_client.get(reverse("video_download", args=[video.id])),
                     api.get(f"videos/{video.id}/file?download=true")):
        assert response.status_code == 200
        got = heard(io.BytesIO(_body(response)))
        assert got is not None and (got.codec, got.sample_rate) == ("aac", RATE)
        assert abs(got.duration_s - 2.0) <= 1 / 8


def test_the_pages_say_it_has_sound_and_the_share_page_previews_it(owner_client, client,
                                                                  stranger_client, video):
    grid = owner_client.get(reverse("gallery")).content.decode()
    assert "♪ sound" in grid and ", with sound\"" in grid
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "AAC, 24 kHz, stereo, 2.0 s" in page and "with AAC sound" in page
    assert stranger_client.get(reverse("video_detail", args=[video.id])).status_code == 404

    video.visibility, video.share_slug = Visibility.UNLISTED, "s0und5lug"
    video.save()
    shared = client.get(reverse("shared_video", args=[video.share_slug]))
    html = shared.content.decode()
    assert 'content="A video with sound made with Framecraft' in html
    assert reverse("shared_poster", args=[video.share_slug]) in html  # og:image, the poster
    assert " muted" not in html.split('class="player"')[1].split(">")[0]
    served = client.get(reverse("shared_file", args=[video.share_slug]))
    got = heard(io.BytesIO(_body(served)))
    assert got is not None and got.sample_rate == RATE
