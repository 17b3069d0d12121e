"""A gallery page reads about a page of rows, however many videos there are: each page's query
is a keyset walk down an index that starts at its cursor (PostgreSQL's own plan, EXPLAIN
ANALYZE, after ANALYZE on thousands of rows). bench/gallery.py times the same pages at a
million videos; this holds the plans that make them flat."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.gallery import insert_videos
from generation import gallery, keyset
from generation.models import Video
from tests.conftest import make_user
from tests.plans import over, plan_nodes, rows_read

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the plans are PostgreSQL's")

VIDEOS = 5000
# A page is 24 tiles and one more to know there is a next page; ties and the odd row the
# filter passes over stay well under this. Reading the whole gallery would be thousands.
ROWS_PER_PAGE = 200
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def big_gallery(owner: Any) -> Any:
    """The owner's 5000 private videos and 3000 public videos of 30 other people."""
    insert_videos("%(owner)s", 0, VIDEOS - 1, 60, "private", {"owner": owner.pk})
    people = [make_user(f"public-{n}").pk for n in range(30)]
    insert_videos("(%(people)s::bigint[])[1 + n %% 30]", 0, 2999, 30, "public",
                  {"people": people})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE generation_video")
    return owner


def _cursor_at(videos: Any, index: int) -> str:
    video = videos.order_by("-created_at", "-id")[index]
    return keyset.cursor_of(video.created_at, video.id)


@pytest.mark.parametrize("url", [
    "/gallery/", "/gallery/?sort=oldest", "/gallery/?sort=longest",
    "/gallery/?preset=ltx-video", "/gallery/?kind=i2v", "/gallery/?favourites=1",
])
def test_a_gallery_page_reads_a_page_of_rows_not_the_gallery(big_gallery, owner_client, url):
    read = rows_read(owner_client, url)
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)


def test_a_deep_gallery_page_starts_at_its_cursor(big_gallery, owner_client):
    middle = _cursor_at(Video.objects.filter(owner=big_gallery), VIDEOS // 2)
    read = rows_read(owner_client, f"/gallery/?after={middle}", **HTMX)
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)


def test_deep_explore_pages_start_at_their_cursor(big_gallery, client):
    middle = _cursor_at(Video.objects.public(), 1500)
    read = rows_read(client, f"/explore/?after={middle}", **HTMX)
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)
    read = rows_read(client, "/u/public-7/")
    assert read and max(read.values()) <= ROWS_PER_PAGE, over(read, ROWS_PER_PAGE)


def test_the_model_filter_lists_models_without_reading_every_video(big_gallery, owner_client):
    assert gallery.presets_used(big_gallery) == sorted(
        set(Video.objects.filter(owner=big_gallery).values_list("preset", flat=True)))
    with CaptureQueriesContext(connection) as captured:
        gallery.presets_used(big_gallery)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + captured.captured_queries[0]["sql"])
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scans = [node for node in plan_nodes(plan[0]["Plan"])
             if node.get("Relation Name") == "generation_video"]
    # Five models: one probe each (and one that finds none left), each reading one row.
    assert scans and all(node["Actual Rows"] <= 1 for node in scans), scans


@pytest.mark.parametrize("sort", ["newest", "oldest", "longest"])
def test_pages_neither_lose_nor_repeat_videos_at_ties(owner, sort):
    """Videos made in the same instant are ordered by id, and no page loses or repeats one
    (the cursor's condition as the index reads it: time ≤, then time < or id <)."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.videos import make_video

    same = timezone.now() - timedelta(hours=1)
    made = {make_video(owner, f"tie {n}").pk for n in range(30)}
    Video.objects.filter(pk__in=made).update(created_at=same)
    seen, cursor = [], None
    while True:
        items, cursor = gallery.page(Video.objects.owned_by(owner), cursor, size=7, sort=sort)
        seen += [item.pk for item in items]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 30
    assert set(seen) == made


# A search looks among gallery.SEARCH_WINDOW videos first (its walk stops there), then, for a
# rare word, the GIN index alone: at most a window and a page, whatever the word.
SEARCH_ROWS = gallery.SEARCH_WINDOW + ROWS_PER_PAGE


@pytest.mark.parametrize("url", [
    "/gallery/?q=zebra", "/gallery/?q=lighthouse+storm", "/gallery/?q=owl&favourites=1",
    "/gallery/?q=zebra&sort=longest",
])
def test_a_search_reads_a_window_not_the_gallery(big_gallery, owner_client, url):
    read = rows_read(owner_client, url)
    assert read and max(read.values()) <= SEARCH_ROWS, over(read, SEARCH_ROWS)


@pytest.mark.parametrize("sort", ["newest", "oldest", "longest"])
def test_a_rare_word_is_found_beyond_the_window_in_order(big_gallery, sort):
    """Thirty videos name a word no other does, spread over the gallery (most of them past the
    first window): page after page finds each once, in the order, as a plain filter would."""
    ids = list(Video.objects.filter(owner=big_gallery).order_by("-created_at", "-id")
               .values_list("id", flat=True))
    rare = ids[5::len(ids) // 30][:30]
    Video.objects.filter(pk__in=rare).update(prompt="a quokka on a bicycle")
    field, descending = gallery.SORTS[sort]
    sign = "-" if descending else ""
    expected = list(Video.objects.filter(pk__in=rare).order_by(f"{sign}{field}", f"{sign}id")
                    .values_list("id", flat=True))
    seen, cursor = [], None
    while True:
        items, cursor = gallery.page(gallery.search(Video.objects.owned_by(big_gallery),
                                                    "quokka"), cursor, size=7, sort=sort)
        seen += [item.pk for item in items]
        if cursor is None:
            break
    assert seen == expected
    none, cursor = gallery.page(gallery.search(Video.objects.owned_by(big_gallery), "zebra"),
                                None)
    assert none == [] and cursor is None
