"""A storyboard built and rendered in Chromium: a title, an opening shot, a continuing shot
and a cut, one moved into place, Render, each shot's state changing live, then the joined
video playing on the page with the site's share controls. At desktop and phone width."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storyboards.models import RenderState, Storyboard
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, play_video, sign_in
from tests.editing.sources import start_studio_worker

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
RENDER_TIMEOUT_MS = 300_000
SHOTS_DIR = os.environ.get("FRAMECRAFT_SCREENSHOTS")


@pytest.fixture
def studio_with_demo_models(live_site: str, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """The site, and a worker on the job and models queues (the join runs there) with only
    the built-in demo models."""
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "1")
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_DEMO_MODELS="1",
                                 FRAMECRAFT_MODELS_DIR=str(tmp_path / "models"),
                                 HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    yield live_site
    worker.stop()


def screenshot(page, name: str) -> None:
    if SHOTS_DIR:
        page.screenshot(path=str(Path(SHOTS_DIR) / f"{name}.png"), full_page=True)


def add_shot(page, prompt: str, frames: str, transition: str, preset: str | None = None
             ) -> None:
    form = page.locator("#add-shot-form")
    form.locator("textarea[name=prompt]").fill(prompt)
    if preset:
        form.locator("select[name=preset]").select_option(preset)
    form.locator("input[name=num_frames]").fill(frames)
    radio = form.locator(f"input[name=transition][value={transition}]")
    if radio.is_enabled():
        radio.check()
    count = page.locator("li.shot").count()
    form.locator("button:has-text('Add shot')").click()
    page.locator("li.shot").nth(count).wait_for()


def test_build_and_render_a_storyboard(browser, studio_with_demo_models, page_problems):
    site = studio_with_demo_models
    make_user("ada", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site)
    page.click("nav >> text=Storyboards")
    page.wait_for_url(f"{site}/storyboards/")
    page.fill("input[name=title]", "Harbour morning")
    page.click("button:has-text('Create storyboard')")
    page.locator("h1:has-text('Harbour morning')").wait_for()

    # A mistake is refused where it was made (a 422 with the form), with the model's limits.
    page_problems.allow_refusals(f"{page.url}shots/")
    page.locator("#add-shot-form input[name=num_frames]").fill("10")
    page.locator("#add-shot-form textarea[name=prompt]").fill("a harbour at dawn")
    page.locator("#add-shot-form button:has-text('Add shot')").click()
    page.locator("#add-shot-form .error:has-text('10 is not')").wait_for()

    add_shot(page, "a harbour at dawn", "9", "cut")
    add_shot(page, "a gull overhead", "9", "cut", preset="tiny")
    add_shot(page, "the boats leave", "9", "continue")
    # The continuing shot belongs after the opening: move it up.
    page.click("button[aria-label='Move up (shot 3)']")
    page.locator("li.shot").nth(1).locator(".shot-prompt:has-text('the boats leave')").wait_for()
    assert page.locator("li.shot").nth(1).locator(
        ".shot-transition").inner_text() == "Continues from shot 1"
    assert page.locator("li.shot").nth(2).locator(".shot-transition").inner_text() == "Cut"
    screenshot(page, "storyboard-desktop")

    page.click("#render-button")
    # Live: the first shot's state moves before the last one's does.
    page.locator(".render-shot[data-state=done]").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.locator("#storyboard-video").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#render-state").text_content() == "Rendered"
    assert page.locator(".render-shot[data-state=done]").count() == 3
    playback = play_video(page, "#storyboard-video")
    assert playback["error"] is None and playback["duration"] == pytest.approx(26 / 8, abs=0.3)
    board = Storyboard.objects.get(title="Harbour morning")
    assert board.state == RenderState.DONE and board.video is not None

    # The site's share controls work on the rendered video.
    page.check("#share-panel input[name=visibility][value=unlisted]")
    page.click("#share-panel button:has-text('Save sharing')")
    page.locator("#share-url").wait_for()
    screenshot(page, "storyboard-rendered-desktop")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    phone_page = phone.new_page()
    sign_in(phone_page, site)
    phone_page.goto(f"{site}/storyboards/{board.id}/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    screenshot(phone_page, "storyboard-phone")
    phone_page.goto(f"{site}/storyboards/")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "storyboards-list-phone")
    phone.close()
    context.close()
