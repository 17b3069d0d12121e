"""A person arranges their own queue in the studio: drags a waiting job above the others,
moves one to the top from the keyboard (the focus stays on it), pauses and resumes their
queue; the maintenance hold shows on the open page; all of it fits a phone."""

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from generation import queue
from generation.models import Job
from tests.conftest import make_user
from tests.e2e.a11y import axe_violations, describe
from tests.e2e.conftest import PASSWORD, sign_in
from tests.jobs import make_job
from tests.processes import wait_for

pytestmark = pytest.mark.e2e

# FRAMECRAFT_SCREENSHOTS=/some/folder keeps the studio's screenshots to look at.
SCREENSHOTS = os.environ.get("FRAMECRAFT_SCREENSHOTS")
CARD_ORDER = "() => [...document.querySelectorAll('#my-queue .job-card .prompt')]" \
             ".map(p => p.textContent.trim())"


def _waiting(owner, *prompts: str) -> list[Job]:
    start = timezone.now() - timedelta(minutes=5)
    jobs = []
    for n, prompt in enumerate(prompts):
        job = make_job(owner, prompt=prompt)
        Job.objects.filter(pk=job.pk).update(created_at=start + timedelta(seconds=n))
        jobs.append(job)
    return jobs


def _order(owner) -> list[str]:
    return [job.prompt for job in queue.waiting(owner)]


def _open_studio(page, base_url: str) -> None:
    """Signed in, on the studio again: without the sign-in message (base.html's list of
    messages is a role=status <ul>, which axe flags; not this page's to fix)."""
    sign_in(page, base_url)
    # The socket sends the whole list once it connects, which replaces the list on the page:
    # a drag begun before then is on cards that are gone. Count the socket's messages.
    page.add_init_script("document.addEventListener('htmx:wsAfterMessage', () => {"
                         " window.__socketMessages = (window.__socketMessages || 0) + 1; });")
    page.goto(base_url + "/studio/")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false"
                           " && window.__socketMessages >= 1")


def _as_an_admin_elsewhere(action) -> None:
    """Run a queue action off this thread: Playwright's event loop runs here, and the
    action's events reach the channel layer through async_to_sync."""
    from django.db import connection

    def run() -> None:
        try:
            action()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)


def _shoot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def ada(transactional_db):
    ada = make_user("ada", PASSWORD)
    # Someone else's job waits too: ada's order never moves it, and it is not on her page.
    make_job(make_user("grace", PASSWORD), prompt="grace's comet")
    _waiting(ada, "a fox in snow", "a lighthouse at dusk", "a paper boat")
    return ada


def test_drag_move_to_top_pause_and_resume_from_the_studio(live_site, page, ada):
    _open_studio(page, live_site)
    assert page.evaluate(CARD_ORDER) == ["a fox in snow", "a lighthouse at dusk", "a paper boat"]

    # Drag the last card by its handle above the first.
    boat = page.locator("#my-queue .queue-item").nth(2).locator(".drag-handle")
    boat.drag_to(page.locator("#my-queue .queue-item").first, target_position={"x": 40, "y": 5})
    wait_for(lambda: _order(ada)[0] == "a paper boat", 30, "the dragged order to be saved")
    assert _order(ada) == ["a paper boat", "a fox in snow", "a lighthouse at dusk"]
    page.wait_for_function(f"() => ({CARD_ORDER})()[0] === 'a paper boat'")
    page.wait_for_function("() => document.getElementById('job-announcer').textContent"
                           " === 'Moved to number 1 of your 3 waiting jobs.'")

    # From the keyboard: Move to top on the last card; the focus stays on that job's buttons.
    last = page.locator("#my-queue .queue-item").nth(2)
    lighthouse = last.get_attribute("data-job")
    last.get_by_role("button", name="Move to top").focus()
    page.keyboard.press("Enter")
    wait_for(lambda: _order(ada)[0] == "a lighthouse at dusk", 30, "the move to be saved")
    page.wait_for_function(f"() => ({CARD_ORDER})()[0] === 'a lighthouse at dusk'")
    page.wait_for_timeout(1500)  # the websocket's copy of the list replaces it once more
    focused = page.evaluate("() => document.activeElement?.dataset.focusKey || ''")
    assert focused.endswith(lighthouse), focused
    page.keyboard.press("Enter")  # now "Move down": the focus is a working button
    wait_for(lambda: _order(ada)[1] == "a lighthouse at dusk", 30, "the move down")
    _shoot(page, "queue-desktop")
    assert not (found := axe_violations(page)), describe(found)

    page.get_by_role("button", name="Pause my queue").click()
    page.get_by_text("Your queue is paused.").wait_for()
    assert queue.member(ada).paused
    assert page.locator("#my-queue").inner_text().count("Paused · starts after you resume") == 3
    page.get_by_role("button", name="Resume my queue").click()
    page.get_by_role("button", name="Pause my queue").wait_for()
    assert not queue.member(ada).paused
    # Grace's job keeps its turn between ada's first and second.
    page.locator("#my-queue").get_by_text("number 3 in the queue").wait_for()
    assert "number 2 in the queue" not in page.locator("#my-queue").inner_text()


def test_the_maintenance_hold_shows_on_the_open_studio_and_fits_a_phone(live_site, browser,
                                                                        ada):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    _open_studio(page, live_site)
    _as_an_admin_elsewhere(lambda: queue.hold(reason="new GPUs"))  # the open page hears
    notice = page.get_by_text("The queue is paused for maintenance.")
    notice.wait_for()
    _shoot(page, "queue-phone")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert max(widths) <= 390, widths
    assert not (found := axe_violations(page)), describe(found)
    _as_an_admin_elsewhere(queue.release)
    notice.wait_for(state="detached")
    context.close()


STRANGERS_POST = """async ([url, body]) => {
    const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
    const response = await fetch(url, {method: "POST", body: new URLSearchParams(body),
                                       headers: {"X-CSRFToken": token, "HX-Request": "true"}});
    return response.status;
}"""


def test_a_stranger_in_the_studio_cannot_move_or_reorder_someone_elses_jobs(
        live_site, page, page_problems, ada):
    page_problems.allow("404 (Not Found)")  # the refusals this test asks for
    before = _order(ada)
    boat = queue.waiting(ada).get(params__prompt="a paper boat")
    sign_in(page, live_site, "grace")
    page.goto(live_site + "/studio/")
    assert page.locator("#my-queue .job-card").count() == 1  # only grace's own job
    assert page.evaluate(STRANGERS_POST, [f"/jobs/{boat.id}/move/", [["where", "top"]]]) == 404
    assert page.evaluate(STRANGERS_POST, ["/queue/order/", [["order", str(boat.id)]]]) == 404
    assert _order(ada) == before and not queue.member(ada).paused
