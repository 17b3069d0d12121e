"""Copy buttons (static/js/copy.js): an API key shown once and a share link go to the
clipboard in one click; without the clipboard API the text is selected for Ctrl+C instead."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e


def _context(browser, live_site, clipboard: bool = True):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site)
    else:  # as on a plain-http address other than localhost: no navigator.clipboard
        context.add_init_script(
            "Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    return context


def test_a_new_api_key_is_copied_in_one_click(browser, live_site):
    make_user("ada", PASSWORD)
    context = _context(browser, live_site)
    page = context.new_page()
    sign_in(page, live_site)
    page.goto(live_site + "/profile/")
    page.fill("#api-key-name", "my script")
    page.click("#api-keys >> text=Make a key")
    secret = page.locator("#new-api-key").inner_text()
    page.click("[data-new-key] button:has-text('Copy key')")
    page.wait_for_selector("[data-new-key] button:has-text('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    page.wait_for_selector("[data-new-key] button:has-text('Copy key')")  # says so a moment
    context.close()


def test_without_the_clipboard_api_the_text_is_selected(browser, live_site):
    ada = make_user("ada", PASSWORD)
    video = make_video(ada)
    context = _context(browser, live_site, clipboard=False)
    page = context.new_page()
    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video.id}/")
    page.check("input[name=visibility][value=unlisted]")
    page.click("#share-panel button:has-text('Save sharing')")
    page.locator("#share-url").wait_for()
    page.click("#share-panel [data-copy]")
    selected = page.evaluate("""() => {
        const field = document.querySelector('#share-url');
        return document.activeElement === field
            ? field.value.slice(field.selectionStart, field.selectionEnd) : '';
    }""")
    assert selected == page.input_value("#share-url")
    label = page.inner_text("#share-panel [data-copy]")
    assert label in ("Copied", "Selected: press Ctrl+C")
    context.close()
