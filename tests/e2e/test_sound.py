"""A video with sound in a real browser, on the built-in demo models: made in the studio with
LTX-2's demo ("With sound" on), it plays with its sound in the studio card, on its page and on
its share page; its gallery tile says "sound" and previews muted. The browser decodes the
audio track (Chromium's decoded-audio counter rises), and the file it was served checks out
with PyAV: an AAC stream as long as the picture to a frame. Each page is looked at on a
desktop and a phone screen (FRAMECRAFT_SCREENSHOTS=/a/folder keeps the screenshots)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from generation.models import Video, Visibility
from tests.e2e.test_text_to_video import sign_up
from tests.sound.media import heard

pytestmark = pytest.mark.e2e

SCREENSHOTS = os.environ.get("FRAMECRAFT_SCREENSHOTS")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Plays the player (muted: decoding is the same) until the browser has decoded some of its
# sound; what it knows of the media then.
HEAR_SCRIPT = """async (selector) => {
    const video = document.querySelector(selector);
    video.muted = true;
    if (video.readyState < 1) {
        await new Promise(resolve => video.addEventListener('loadedmetadata', resolve,
                                                           {once: true}));
    }
    await video.play();
    const started = performance.now();
    while (video.webkitAudioDecodedByteCount === 0 && performance.now() - started < 5000) {
        await new Promise(resolve => setTimeout(resolve, 100));
    }
    video.pause();
    return {duration: video.duration, error: video.error, audio: video.webkitAudioDecodedByteCount,
            mutedAttribute: video.hasAttribute('muted'), controls: video.controls};
}"""


def _hear(page, selector: str) -> dict:
    return page.evaluate(HEAR_SCRIPT, selector)


def _looked_at(page, name: str) -> None:
    """Screenshots at desktop and phone width; the page never runs wider than the phone."""
    for look, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_load_state("load")
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{look}.png"), full_page=True)
        if look == "phone":
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert max(widths) <= PHONE["width"], (name, widths)
    page.set_viewport_size(DESKTOP)


def _rerendered(page, action) -> None:
    page.eval_on_selector("#generation-form", "form => { form.dataset.stale = '1'; }")
    action()
    page.wait_for_function(
        "() => { const form = document.querySelector('#generation-form');"
        " return form && !form.dataset.stale && !document.querySelector('.htmx-request'); }")


def test_a_video_with_sound_is_made_and_plays_with_it_everywhere(page, live_studio):
    base = live_studio
    sign_up(page, base, "ada")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    _rerendered(page, lambda: page.select_option("#generation-form select[name=preset]",
                                                 "demo-ltx2"))
    assert page.is_checked("#generation-form input[name=sound][value='1']")
    _looked_at(page, "studio-sound-form")
    page.fill("textarea[name=prompt]", "a brass band on a pier at dusk")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
        timeout=120_000)

    heard_in_card = _hear(page, ".job-card video.player")
    assert heard_in_card["error"] is None and heard_in_card["audio"] > 0, heard_in_card
    assert not heard_in_card["mutedAttribute"] and heard_in_card["controls"]

    video = Video.objects.get(owner__username="ada")
    served = page.request.get(f"{base}/videos/{video.id}/file.mp4")
    got = heard(io.BytesIO(served.body()))
    assert got is not None and (got.codec, got.sample_rate) == ("aac", 16000)
    assert abs(got.duration_s - got.video_duration_s) <= 1 / got.fps
    assert heard_in_card["duration"] == pytest.approx(got.video_duration_s, abs=1 / got.fps)

    page.goto(f"{base}/videos/{video.id}/")
    on_page = _hear(page, "video.player")
    assert on_page["audio"] > 0 and not on_page["mutedAttribute"]
    assert "AAC, 16 kHz, stereo" in page.inner_text(".recipe-sound")
    _looked_at(page, "video-page-sound")

    page.goto(f"{base}/gallery/")
    tile = page.locator(f"#tile-{video.id}")
    assert tile.locator(".tile-sound").inner_text().strip() == "♪ sound"
    assert "with sound" in tile.locator(".tile-media").get_attribute("aria-label")
    tile.locator(".tile-media").hover()
    page.wait_for_function(
        f"() => !document.querySelector('#tile-{video.id} video').paused")
    assert page.eval_on_selector(f"#tile-{video.id} video", "v => v.muted") is True
    _looked_at(page, "gallery-sound")

    video.visibility, video.share_slug = Visibility.UNLISTED, "sound" + "s" * 17
    video.save()
    page.context.clear_cookies()  # a stranger with the link
    page.goto(f"{base}/s/{video.share_slug}/")
    description = page.get_attribute("meta[property='og:description']", "content")
    poster = page.get_attribute("meta[property='og:image']", "content")
    assert description and "with sound" in description
    assert page.request.get(poster).headers["content-type"] == "image/jpeg"
    assert page.get_attribute("video.player", "poster")
    shared = _hear(page, "video.player")
    assert shared["audio"] > 0 and not shared["mutedAttribute"]
    _looked_at(page, "share-page-sound")
