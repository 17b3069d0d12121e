from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation.models import Video, Visibility
from tests.conftest import csrf_post
from tests.videos import SHARED_VIEWS, make_video, revoke_a_link, share

HTMX = {"HTTP_HX_REQUEST": "true"}



@pytest.mark.parametrize(
    ("name", "method"),
    [("video_detail", "get"), ("video_file", "get"), ("video_poster", "get"),
     ("video_download", "get"), ("delete_video", "post"), ("toggle_favourite", "post"),
     ("share_video", "post")],
)
def test_a_stranger_gets_404_for_a_private_video(stranger_client, owner, name, method):
    video = make_video(owner)
    url = reverse(name, args=[video.id])
    if method == "get":
        response = stranger_client.get(url)
    else:
        response = csrf_post(stranger_client, url, {"visibility": "unlisted"})
    assert response.status_code == 404
    video.refresh_from_db()
    assert (video.visibility, video.share_slug, video.is_favourite) == ("private", None, False)


def test_an_unlisted_link_works_signed_out_and_counts_views(owner_client, owner):
    video = make_video(owner, "a glass of water")
    response = csrf_post(owner_client, reverse("share_video", args=[video.id]),
                     {"visibility": "unlisted"}, **HTMX)
    video.refresh_from_db()
    assert video.share_slug and len(video.share_slug) >= 20
    assert f"/s/{video.share_slug}/" in response.content.decode()

    visitor = Client()
    page = visitor.get(reverse("shared_video", args=[video.share_slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'property="og:image"' in html and f"/s/{video.share_slug}/poster.jpg" in html
    assert 'name="twitter:card"' in html
    assert visitor.get(reverse("shared_file", args=[video.share_slug])).status_code == 200
    assert visitor.get(reverse("shared_poster", args=[video.share_slug])).status_code == 200
    visitor.get(reverse("shared_video", args=[video.share_slug]))  # the same visitor again
    Client().get(reverse("shared_video", args=[video.share_slug]))  # someone else
    video.refresh_from_db()
    assert video.view_count == 2


def test_a_revoked_link_gives_404(owner_client, owner):
    video = make_video(owner)
    slug = revoke_a_link(owner_client, video)
    for name in SHARED_VIEWS:
        assert Client().get(reverse(name, args=[slug])).status_code == 404
    share(owner_client, video, {"visibility": "unlisted"})
    assert video.share_slug != slug  # sharing again makes a new link


def test_an_expired_link_gives_404(owner):
    video = make_video(owner, visibility=Visibility.UNLISTED, share_slug="x" * 22,
                       share_expires_at=timezone.now() - timedelta(minutes=1))
    assert Client().get(reverse("shared_video", args=[video.share_slug])).status_code == 404


def test_a_link_with_a_lifetime_expires(owner_client, owner):
    video = make_video(owner)
    csrf_post(owner_client, reverse("share_video", args=[video.id]),
          {"visibility": "unlisted", "expires": "1d"})
    video.refresh_from_db()
    assert timedelta(hours=23) < video.share_expires_at - timezone.now() <= timedelta(days=1)


def test_bad_sharing_input_gets_a_clear_message(owner_client, owner):
    video = make_video(owner)
    response = csrf_post(owner_client, reverse("share_video", args=[video.id]),
                     {"visibility": "everyone"}, **HTMX)
    assert response.status_code == 422
    assert "Unknown visibility" in response.content.decode()


def test_public_videos_appear_in_explore_and_on_the_profile_and_private_ones_never(owner):
    public = make_video(owner, "a public sunrise", visibility=Visibility.PUBLIC,
                        share_slug="p" * 22)
    make_video(owner, "a private diary", share_slug=None)
    make_video(owner, "an unlisted secret", visibility=Visibility.UNLISTED, share_slug="u" * 22)
    visitor = Client()
    explore = visitor.get(reverse("explore")).content.decode()
    profile = visitor.get(reverse("public_profile", args=[owner.username])).content.decode()
    for page in (explore, profile):
        assert "a public sunrise" in page
        assert "a private diary" not in page
        assert "an unlisted secret" not in page
    assert f"/s/{public.share_slug}/" in explore


def test_making_a_video_private_again_ends_its_link(owner_client, owner):
    video = make_video(owner)
    csrf_post(owner_client, reverse("share_video", args=[video.id]), {"visibility": "public"})
    video.refresh_from_db()
    slug = video.share_slug
    csrf_post(owner_client, reverse("share_video", args=[video.id]), {"visibility": "private"})
    assert Client().get(reverse("shared_video", args=[slug])).status_code == 404
    assert not Video.objects.public().exists()


def test_saving_a_lifetime_shows_it_kept_and_says_what_was_saved(owner_client, owner):
    video = make_video(owner)
    response = share(owner_client, video, {"visibility": "unlisted", "expires": "7d"}, **HTMX)
    panel = response.content.decode()
    assert 'role="status"' in panel and "Saved: anyone with the link can watch it until" in panel
    selected = panel[panel.index("<select"):panel.index("</select>")]
    kept = selected[selected.index('value="keep"'):]
    assert kept.startswith('value="keep" selected') and "6\xa0days" in kept  # time left
    expiry = video.share_expires_at
    share(owner_client, video, {"visibility": "public", "expires": "keep"}, **HTMX)
    assert video.share_expires_at == expiry  # saving again keeps the link's end


def test_keeping_the_lifetime_of_an_expired_link_makes_a_fresh_one(owner_client, owner):
    video = make_video(owner, visibility=Visibility.UNLISTED, share_slug="x" * 22,
                       share_expires_at=timezone.now() - timedelta(minutes=1))
    share(owner_client, video, {"visibility": "unlisted", "expires": "keep"})
    assert video.share_is_live and video.share_expires_at is None
    assert video.share_slug != "x" * 22


def test_the_share_link_has_a_copy_button(owner_client, owner):
    video = make_video(owner)
    panel = share(owner_client, video, {"visibility": "unlisted"}, **HTMX).content.decode()
    assert 'data-copy="#share-url"' in panel
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "js/copy.js" in page


def test_revoking_says_so(owner_client, owner):
    video = make_video(owner)
    share(owner_client, video, {"visibility": "unlisted"})
    panel = share(owner_client, video, {"action": "revoke"}, **HTMX).content.decode()
    assert "Link revoked" in panel and 'data-copy="#share-url"' not in panel
