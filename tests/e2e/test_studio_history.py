"""A long history in the studio: the page stays short and fetches almost no video on load;
"Show more" brings the next page in place; hovering a poster plays it."""

from datetime import timedelta

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900},
                                      {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_thirty_finished_jobs_load_one_page_and_almost_no_video(browser, live_site, viewport,
                                                                tmp_path):
    owner = make_user("ada", PASSWORD)
    for number in range(30):
        make_video(owner, prompt=f"finished clip {number}", age=timedelta(minutes=number))
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    video_requests: list[str] = []
    page.on("request", lambda request: request.url.endswith("/file.mp4")
            and video_requests.append(request.url))
    sign_in(page, live_site)
    page.wait_for_load_state("networkidle")
    assert page.locator(".job-card").count() == 12
    assert len(video_requests) <= 2, video_requests
    page.screenshot(path=f"/tmp/history-{viewport['width']}.png", full_page=True)
    # A history card is a line of facts beside a poster (a card with a player was 575 px).
    heights = page.evaluate("[...document.querySelectorAll('.job-card.compact')]"
                            ".map(card => card.offsetHeight)")
    assert len(heights) == 11 and max(heights) <= 240, heights

    page.click("button:has-text('Show more')")
    page.wait_for_function("() => document.querySelectorAll('.job-card').length === 24")
    page.click("button:has-text('Show more')")
    page.wait_for_function("() => document.querySelectorAll('.job-card').length === 30")
    assert page.locator("button:has-text('Show more')").count() == 0
    page.wait_for_load_state("networkidle")
    assert len(video_requests) <= 2, video_requests

    # A poster in the history plays where it is when hovered.
    thumb = page.locator(".job-card.compact video.hover-play").nth(5)
    thumb.scroll_into_view_if_needed()
    thumb.hover()
    page.wait_for_function("(v) => !!v.src", arg=thumb.element_handle())
    context.close()
