"""The gallery in the browser: tick tiles, "Delete selected", confirm, and they are gone; the
tiles say each video's length, kind and model; the order can be changed."""

from __future__ import annotations

import pytest

from generation.models import Video
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e


def test_selected_tiles_are_deleted_after_a_confirmation(live_site, page):
    ada = make_user("ada", PASSWORD)
    videos = [make_video(ada, f"clip {n}") for n in range(3)]
    sign_in(page, live_site)
    page.goto(f"{live_site}/gallery/")
    delete = page.locator("[data-bulk-delete]")
    assert delete.is_disabled()  # nothing ticked yet

    page.check(f"#tile-{videos[0].id} [data-bulk-select]")
    page.check(f"#tile-{videos[2].id} [data-bulk-select]")
    assert page.inner_text("[data-bulk-count]") == "2 selected" and delete.is_enabled()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    delete.click()
    assert asked == ["Delete 2 videos? This cannot be undone."]
    assert Video.objects.count() == 3  # dismissed: nothing happens

    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    page.wait_for_selector("text=Deleted 2 videos.")
    assert list(Video.objects.values_list("prompt", flat=True)) == ["clip 1"]
    assert page.locator(".tile").count() == 1


def test_select_all_and_the_order_follow_the_tiles_shown(live_site, page):
    ada = make_user("ada", PASSWORD)
    for n in range(3):
        make_video(ada, f"clip {n}")
    sign_in(page, live_site)
    page.goto(f"{live_site}/gallery/")
    page.click("[data-bulk-all]")
    assert page.inner_text("[data-bulk-count]") == "3 selected"
    page.select_option("#gallery-sort", "oldest")
    page.wait_for_url("**/gallery/?*sort=oldest*")
    page.wait_for_function("() => document.querySelector('.tile-prompt').textContent === 'clip 0'")
    # The tiles were swapped in afresh: nothing is ticked now, and the count says so.
    assert page.inner_text("[data-bulk-count]") == ""
    assert page.locator("[data-bulk-delete]").is_disabled()
