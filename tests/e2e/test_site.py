"""The site's chrome in a real browser: the phone menu, the landing page's examples, the edit
studio's task picker on the first screen."""

from __future__ import annotations

import os

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("FRAMECRAFT_SCREENSHOTS")


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    yield context.new_page()
    context.close()


def _nav_height(page) -> float:
    return page.evaluate("() => document.querySelector('.topbar').getBoundingClientRect().height")


def test_on_a_phone_the_nav_is_one_row_with_a_menu(phone, live_site):
    make_user("ada", PASSWORD)
    sign_in(phone, live_site)
    toggle = phone.locator(".nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not phone.locator("#nav-links").is_visible()
    assert _nav_height(phone) < 64  # one row: the brand and the button

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    if SCREENSHOTS:
        phone.screenshot(path=f"{SCREENSHOTS}/nav-menu-open.png")
    for name in ("Studio", "Gallery", "My uploads", "Subjects", "My LoRAs", "Explore", "ada"):
        assert phone.get_by_role("link", name=name, exact=True).is_visible(), name
    assert phone.get_by_role("button", name="Sign out").is_visible()
    phone.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert phone.evaluate("() => document.activeElement.classList.contains('nav-toggle')")

    # By keyboard: Enter on the focused button opens it, and the first link is next in turn.
    phone.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    phone.keyboard.press("Tab")
    assert phone.evaluate("() => document.activeElement.textContent.trim()") == "Studio"
    phone.get_by_role("link", name="Gallery", exact=True).click()
    phone.wait_for_url(f"{live_site}/gallery/")
    assert phone.locator(".nav-toggle").get_attribute("aria-expanded") == "false"


def test_on_a_desktop_the_links_show_without_a_menu(page, live_site):
    page.goto(live_site + "/")
    assert not page.locator(".nav-toggle").is_visible()
    assert page.get_by_role("link", name="Sign up").is_visible()


def test_the_landing_page_plays_a_public_example_on_hover(page, live_site):
    ada = make_user("ada", PASSWORD)
    video = make_video(ada, "a public lighthouse", visibility="public", share_slug="p" * 22)
    page.goto(live_site + "/")
    tile = page.locator(f"a[href='/s/{video.share_slug}/']").first
    tile.hover()
    src = page.locator(".examples video.hover-play").first.get_attribute("src")
    assert src == f"/s/{video.share_slug}/video.mp4"
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url(f"{live_site}/accounts/signup/")


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, PHONE],
                         ids=["desktop", "phone"])
def test_the_edit_studios_task_picker_and_model_are_on_the_first_screen(browser, live_site,
                                                                       viewport):
    ada = make_user("ada", PASSWORD)
    video = make_video(ada, "a harbour at dawn")  # square, as the built-in tiny model makes
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, live_site)
    page.goto(f"{live_site}/edit/?video={video.id}")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/edit-studio-{viewport['width']}.png")
    # What to do and with which model come first; the rest of the form may scroll.
    for control in (page.get_by_role("radiogroup", name="Edit the video"),
                    page.locator("select[name=preset]")):
        box = control.bounding_box()
        assert box and box["y"] + box["height"] <= viewport["height"], box
    context.close()


def test_on_a_phone_signed_out_the_sign_up_button_shows_in_one_row(phone, live_site):
    phone.goto(live_site + "/")
    assert phone.get_by_role("link", name="Sign up").is_visible()
    assert not phone.locator(".nav-toggle").count()
    assert _nav_height(phone) < 64
