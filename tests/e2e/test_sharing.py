"""Make a video unlisted, open its link in a fresh signed-out browser, and watch it play."""

import numpy as np
import pytest
from django.core.files import File
from django.core.files.base import ContentFile

from generation.models import Video
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, play_video, sign_in
from worker.runtime.encode import encode_mp4, poster_jpeg

pytestmark = pytest.mark.e2e


@pytest.fixture
def video_of_ada(tmp_path):
    ada = make_user("ada", PASSWORD)
    frames = np.random.default_rng(0).integers(0, 255, (16, 96, 128, 3), dtype=np.uint8)
    info = encode_mp4(frames, 8, tmp_path / "clip.mp4", {"title": "noise"})
    video = Video(owner=ada, prompt="a shared noise clip", preset="tiny", width=info.width,
                  height=info.height, fps=8, frame_count=16, duration_s=info.duration_s,
                  size_bytes=info.size_bytes, recipe={"seed": 3})
    with (tmp_path / "clip.mp4").open("rb") as stream:
        video.file.save("clip.mp4", File(stream), save=False)
    video.poster.save("poster.jpg", ContentFile(poster_jpeg(frames[0])), save=False)
    video.save()
    return video


def test_an_unlisted_link_plays_for_a_signed_out_visitor(browser, live_site, video_of_ada):
    owner = browser.new_context()
    page = owner.new_page()
    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video_of_ada.id}/")
    page.check("input[name=visibility][value=unlisted]")
    page.click("#share-panel button:has-text('Save sharing')")
    link = page.locator("#share-url")
    link.wait_for()
    share_url = link.input_value()
    assert "/s/" in share_url
    owner.close()

    stranger = browser.new_context()  # no cookies: signed out
    page = stranger.new_page()
    response = page.goto(share_url)
    assert response.status == 200
    assert page.locator("meta[property='og:image']").get_attribute("content").endswith(
        "/poster.jpg")
    playback = play_video(page)
    assert playback["error"] is None
    assert playback["duration"] > 0 and playback["time"] > 0
    assert page.locator("text=Sign in").count() >= 1  # really signed out
    stranger.close()


def test_sharing_keeps_the_chosen_lifetime_confirms_and_copies_the_link(browser, live_site,
                                                                        video_of_ada):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site)
    page = context.new_page()
    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video_of_ada.id}/")
    expiry = page.locator("#share-expires")
    assert not expiry.is_visible()  # a private video has no link to expire

    page.check("input[name=visibility][value=unlisted]")
    assert expiry.is_visible()
    expiry.select_option("7d")
    page.click("#share-panel button:has-text('Save sharing')")
    saved = page.locator("#share-panel [role=status]")
    saved.wait_for()
    assert "anyone with the link can watch it until" in saved.inner_text()
    chosen = page.eval_on_selector("#share-expires", "s => s.selectedOptions[0].textContent")
    assert "6 days" in chosen.replace("\xa0", " ") and "left" in chosen  # not "Until revoked"

    page.click("#share-panel button:has-text('Copy link')")
    page.wait_for_selector("#share-panel button:has-text('Copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.input_value("#share-url") and "/s/" in copied

    page.check("input[name=visibility][value=private]")
    assert not expiry.is_visible()
    context.close()
