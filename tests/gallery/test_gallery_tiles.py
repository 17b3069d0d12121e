"""The gallery's tiles (duration, kind, short model name), its orders, its bulk delete (owner
only, CSRF-checked) and the storage bar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Video
from tests.conftest import csrf_post
from tests.videos import make_video

HTMX = {"HTTP_HX_REQUEST": "true"}


def _video(owner, prompt: str, duration_s: float, **fields) -> Video:
    video = make_video(owner, prompt, **fields)
    Video.objects.filter(pk=video.pk).update(duration_s=duration_s)
    return video


def test_a_tile_shows_the_duration_the_kind_and_a_short_model_name(owner_client, owner):
    _video(owner, "a harbour", 3.24, preset="wan2.1-t2v-14b", kind="extend")
    page = owner_client.get(reverse("gallery")).content.decode()
    assert '<span class="tile-duration">3.2 s</span>' in page
    assert '<span class="badge tile-kind">Extend</span> Wan 2.1 text-to-video 14B</p>' in page
    assert 'title="Video extension · Wan 2.1 text-to-video 14B (720p)"' in page  # in full


@pytest.mark.parametrize(("sort", "order"), [
    ("newest", ["middle", "short", "long"]),
    ("oldest", ["long", "short", "middle"]),
    ("longest", ["long", "middle", "short"]),
])
def test_the_gallery_sorts(owner_client, owner, sort, order):
    _video(owner, "long", 9.0, age=timedelta(days=3))
    _video(owner, "short", 1.0, age=timedelta(days=2))
    _video(owner, "middle", 4.0, age=timedelta(days=1))
    page = owner_client.get(reverse("gallery"), {"sort": sort}).content.decode()
    places = [page.index(f'title="{prompt}"') for prompt in order]
    assert places == sorted(places)
    assert f'<option value="{sort}" selected>' in page


def test_longest_first_pages_through_every_video_once(owner_client, owner):
    for n in range(30):  # ties in length too: the id breaks them
        _video(owner, f"clip {n:02d}", float(n % 7))
    first = owner_client.get(reverse("gallery"), {"sort": "longest"}).content.decode()
    cursor = first.split("after=")[1].split('"')[0].replace("&amp;", "&")
    from urllib.parse import unquote

    more = owner_client.get(reverse("gallery"), {"sort": "longest", "after": unquote(cursor)},
                            **HTMX).content.decode()
    shown = [f"clip {n:02d}" for n in range(30)]
    assert sorted(p for p in shown if f'title="{p}"' in first or f'title="{p}"' in more) == shown
    assert first.count('class="tile"') == 24 and more.count('class="tile"') == 6


def test_delete_selected_deletes_only_your_own_videos(owner_client, owner, stranger):
    mine = [make_video(owner, f"mine {n}") for n in range(3)]
    theirs = make_video(stranger, "theirs")
    response = csrf_post(owner_client, reverse("delete_videos"), {
        "ids": [str(mine[0].id), str(mine[1].id), str(theirs.id), "not-a-uuid"]})
    assert response.status_code == 302 and response["Location"] == reverse("gallery")
    assert set(Video.objects.values_list("prompt", flat=True)) == {"mine 2", "theirs"}
    page = owner_client.get(reverse("gallery")).content.decode()
    assert "Deleted 2 videos." in page


def test_a_stranger_deletes_nothing(stranger_client, owner):
    video = make_video(owner)
    csrf_post(stranger_client, reverse("delete_videos"), {"ids": [str(video.id)]})
    assert Video.objects.filter(pk=video.pk).exists()


def test_delete_selected_requires_csrf(owner, owner_client):
    video = make_video(owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("delete_videos"), {"ids": [str(video.id)]}).status_code == 403
    assert Video.objects.filter(pk=video.pk).exists()


def test_the_gallery_and_uploads_show_a_storage_bar(owner_client, owner, settings):
    owner.storage_quota_mb = 10
    owner.save()
    for name in ("gallery", "uploads", "loras"):
        page = owner_client.get(reverse(name)).content.decode()
        assert f'<progress class="quota-bar" max="{10 * 2**20}" value="0"' in page, name
        assert "of 10.0\xa0MB used" in page
