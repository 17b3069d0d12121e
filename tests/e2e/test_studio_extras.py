"""What people expect of a studio, in the browser with a real worker: two variations from one
Generate, a notification for each finished job while the tab is hidden (permission asked on
the click), the progress in the tab's title, a seed copied with one click, and the last
prompts offered to write from again."""

import pytest

from generation.models import Job, JobStatus
from tests.e2e.test_text_to_video import sign_up

pytestmark = pytest.mark.e2e

# Records the notifications the page shows, and lets the test hide the tab.
WATCH = """
window.__notices = [];
window.__hidden = false;
Object.defineProperty(document, 'visibilityState',
                      {get: () => window.__hidden ? 'hidden' : 'visible'});
const Real = window.Notification;
window.Notification = class extends Real {
    constructor(title, options) {
        super(title, options);
        window.__notices.push({title, body: options && options.body});
    }
};
"""


def test_variations_notifications_copy_and_recent_prompts(browser, live_studio):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["notifications", "clipboard-read", "clipboard-write"],
                              origin=live_studio)
    context.add_init_script(WATCH)
    page = context.new_page()
    sign_up(page, live_studio, "ada")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    page.fill("textarea[name=prompt]", "a red kite above the cliffs")
    page.select_option("select[name=variations]", "2")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('.job-card').length === 2")
    page.evaluate("() => { window.__hidden = true; }")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.job-card')].every(c => c.dataset.status === "
        "'succeeded')", timeout=120_000)
    page.wait_for_function("() => window.__notices.length === 2")
    notices = page.evaluate("() => window.__notices")
    assert {n["title"] for n in notices} == {"Your video is ready"}
    assert all(n["body"] == "a red kite above the cliffs" for n in notices)
    assert not page.title().startswith("(")

    first, second = Job.objects.order_by("params__seed")
    assert first.status == second.status == JobStatus.SUCCEEDED
    assert second.params["seed"] == first.params["seed"] + 1

    page.evaluate("() => { window.__hidden = false; }")
    seed = page.locator(".job-card .seed").first.inner_text()
    page.locator(".job-card .copy-seed").first.click()
    assert page.evaluate("() => navigator.clipboard.readText()") == seed
    page.wait_for_selector(".job-card .copy-seed:has-text('Copied')")

    page.reload()
    page.select_option("select[data-recent-prompts]", "a red kite above the cliffs")
    assert page.input_value("textarea[name=prompt]") == "a red kite above the cliffs"
    context.close()
