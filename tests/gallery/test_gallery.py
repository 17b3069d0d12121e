from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation import lifecycle
from generation.models import InputRole, Job, JobInput, JobOrigin, Video
from tests.conftest import csrf_post
from tests.videos import FAKE_MP4, assert_partial, make_video

HTMX = {"HTTP_HX_REQUEST": "true"}



def test_the_gallery_shows_your_videos_newest_first(owner_client, owner, stranger):
    make_video(owner, "older fox", age=timedelta(days=2))
    make_video(owner, "newer owl")
    make_video(stranger, "someone else's whale")
    page = owner_client.get(reverse("gallery")).content.decode()
    assert page.index("newer owl") < page.index("older fox")
    assert "whale" not in page


def test_the_gallery_loads_more_as_you_scroll(owner_client, owner):
    for n in range(30):
        make_video(owner, f"clip number {n:02d}", age=timedelta(minutes=n))
    first = owner_client.get(reverse("gallery")).content.decode()
    assert first.count('class="tile"') == 24
    assert "clip number 23" in first and "clip number 24" not in first
    cursor = first.split("after=")[1].split('"')[0].replace("&amp;", "&")
    more = owner_client.get(reverse("gallery") + "?after=" + cursor, **HTMX).content.decode()
    assert more.count('class="tile"') == 6
    assert "clip number 24" in more and "clip number 29" in more
    assert "load-more" not in more


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"q": "lighthouse"}, "a lighthouse in a storm", "a fox in snow"),
        ({"favourites": "1"}, "a fox in snow", "a lighthouse in a storm"),
        ({"period": "day"}, "a lighthouse in a storm", "an old owl"),
        ({"preset": "other-model"}, "an old owl", "a fox in snow"),
    ],
)
def test_the_gallery_filters(owner_client, owner, query, shown, hidden):
    make_video(owner, "a lighthouse in a storm")
    make_video(owner, "a fox in snow", is_favourite=True)
    make_video(owner, "an old owl", age=timedelta(days=3), preset="other-model")
    page = owner_client.get(reverse("gallery"), query).content.decode()
    assert shown in page
    assert hidden not in page


def test_favourite_toggles(owner_client, owner):
    video = make_video(owner)
    response = csrf_post(owner_client, reverse("toggle_favourite", args=[video.id]), **HTMX)
    assert 'aria-pressed="true"' in response.content.decode()
    video.refresh_from_db()
    assert video.is_favourite
    csrf_post(owner_client, reverse("toggle_favourite", args=[video.id]), **HTMX)
    video.refresh_from_db()
    assert not video.is_favourite


@pytest.mark.django_db(transaction=True)
def test_delete_removes_the_row_and_the_files(owner_client, owner):
    video = make_video(owner)
    storage, names = video.file.storage, (video.file.name, video.poster.name)
    assert all(storage.exists(n) for n in names)
    response = csrf_post(owner_client, reverse("delete_video", args=[video.id]), {"from": "grid"},
                     **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not any(storage.exists(n) for n in names)
    assert Job.objects.filter(pk=video.job_id).exists()  # the job's record stays


def _remix(video, source):
    Job.objects.filter(pk=video.job_id).update(origin=JobOrigin.REMIX)
    JobInput.objects.create(job_id=video.job_id, role=InputRole.REMIX_OF, video=source)


def test_the_detail_page_shows_the_full_recipe_and_lineage(owner_client, owner):
    source = make_video(owner, "the original")
    remix = make_video(owner, "the remix")
    _remix(remix, source)
    page = owner_client.get(reverse("video_detail", args=[source.id])).content.decode()
    assert "Seed" in page and "<code>1</code>" in page
    assert "Made from this video" in page and "the remix" in page
    page = owner_client.get(reverse("video_detail", args=[remix.id])).content.decode()
    assert "Remix of" in page and "the original" in page
    assert f"?remix={remix.id}" in page


def _assert_remix_submitted(client, video, remix_of: str) -> None:
    """Submit the tiny model's form with `remix_of` as the form holds it: the job made is
    recorded as a remix of `video`."""
    response = csrf_post(client, reverse("submit_job"), {
        "preset": "tiny", "prompt": "a paper crane, at night", "negative_prompt": "",
        "size": "128x128", "num_frames": "17", "steps": "8", "guidance": "5.0", "seed": "1",
        "remix_of": remix_of}, **HTMX)
    assert response.status_code == 200
    job = Job.objects.exclude(pk=video.job_id).get()
    assert job.origin == JobOrigin.REMIX
    assert lifecycle.remix_source(job) == video


def test_remix_prefills_the_form_and_records_lineage(owner_client, owner):
    video = make_video(owner, "a paper crane")
    page = owner_client.get(reverse("studio"), {"remix": video.id}).content.decode()
    assert "a paper crane" in page and "Remixing a video" in page
    assert f'value="{video.id}"' in page
    _assert_remix_submitted(owner_client, video, remix_of=str(video.id))


def test_a_stranger_cannot_remix_a_private_video(stranger_client, owner):
    video = make_video(owner)
    assert stranger_client.get(reverse("studio"), {"remix": video.id}).status_code == 404


def test_media_supports_range_requests_so_players_can_seek(owner_client, owner):
    video = make_video(owner)
    url = reverse("video_file", args=[video.id])
    response = owner_client.get(url, HTTP_RANGE="bytes=100-199")
    assert_partial(response, 100, 199)
    assert b"".join(response.streaming_content) == FAKE_MP4[100:200]
    response = owner_client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(response.streaming_content) == FAKE_MP4[-10:]
    response = owner_client.get(url, HTTP_RANGE=f"bytes={len(FAKE_MP4)}-")
    assert response.status_code == 416
    whole = owner_client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == FAKE_MP4


def test_media_goes_through_the_proxy_when_configured(owner_client, owner, settings):
    settings.FRAMECRAFT_MEDIA_ACCEL_PREFIX = "/protected-media/"
    video = make_video(owner)
    response = owner_client.get(reverse("video_file", args=[video.id]))
    assert response["X-Accel-Redirect"] == "/protected-media/" + video.file.name


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_gallery_queries_stay_constant_as_videos_grow(owner_client, owner):
    make_video(owner)
    few = _count_queries(owner_client, reverse("gallery"))
    for _ in range(15):
        make_video(owner, is_favourite=True)
    assert _count_queries(owner_client, reverse("gallery")) == few


def test_detail_queries_stay_constant_as_lineage_grows(owner_client, owner):
    source = make_video(owner)
    url = reverse("video_detail", args=[source.id])
    make_video(owner)  # warm caches (content types, sessions)
    few = _count_queries(owner_client, url)
    for _ in range(8):
        child = make_video(owner)
        _remix(child, source)
    assert _count_queries(owner_client, url) == few


def test_changing_the_model_while_remixing_keeps_the_remix(owner_client, owner, models):
    from worker.catalogue import build_pipeline

    build_pipeline("tiny").save_pretrained(models / "wan2.1-t2v-1.3b")  # a second model
    video = make_video(owner, "a paper crane")
    owner_client.get(reverse("studio"), {"remix": video.id})
    page = owner_client.get(reverse("generation_form"), {
        "preset": "wan2.1-t2v-1.3b", "prompt": "a paper crane", "remix_of": str(video.id)},
        **HTMX).content.decode()
    assert '<option value="wan2.1-t2v-1.3b" selected>' in page
    assert f'name="remix_of" value="{video.id}"' in page
    assert "Remixing a video" in page
    # The form as the browser now holds it, submitted with the model switched back.
    _assert_remix_submitted(
        owner_client, video, remix_of=page.split('name="remix_of" value="')[1].split('"')[0])


def test_the_model_switch_drops_a_remix_of_a_video_you_may_not_remix(stranger_client, owner):
    video = make_video(owner)
    response = stranger_client.get(reverse("generation_form"), {
        "preset": "tiny", "remix_of": str(video.id)}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert str(video.id) not in page and "Remixing a video" not in page
    assert "not-a-uuid" not in stranger_client.get(reverse("generation_form"), {
        "preset": "tiny", "remix_of": "not-a-uuid"}, **HTMX).content.decode()


def _load_more_query(page: str) -> dict[str, list[str]]:
    from html import unescape
    from urllib.parse import parse_qs, urlsplit

    href = unescape(page.split('class="load-more" hx-get="')[1].split('"')[0])
    parts = urlsplit(href)
    assert parts.path == reverse("gallery") and not parts.fragment
    return parse_qs(parts.query, keep_blank_values=True)


@pytest.mark.parametrize("query", [
    {"q": "a&b=c #x", "preset": "wan+2.1/t2v", "kind": "t2v", "period": "week",
     "favourites": "1"},
    # Values the filters take as they come: the link must carry them untouched.
    {"kind": "t2v&x=1 #y", "preset": "a+b c?d"},
])
def test_the_load_more_link_keeps_the_filters_intact(owner_client, owner, query):
    kind = query.get("kind", "t2v")
    for n in range(26):
        make_video(owner, f"clip {n} a&b=c #x", preset=query["preset"], kind=kind,
                   is_favourite=True, age=timedelta(minutes=n))
    page = owner_client.get(reverse("gallery"), query).content.decode()
    assert page.count('class="tile"') == 24
    params = _load_more_query(page)
    cursor = params.pop("after")
    assert params == {key: [value] for key, value in query.items()}
    more = owner_client.get(reverse("gallery"), {**query, "after": cursor[0]}, **HTMX)
    assert more.content.decode().count('class="tile"') == 2
