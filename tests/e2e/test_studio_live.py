"""A running job's card as a person uses it while it runs: the steps tick in place, so the
Cancel button they focused stays the same element, keeps the focus, and still cancels; the
tab's title shows the progress."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.models import User
from generation import queue
from generation.models import Job, JobStatus
from tests.e2e.test_text_to_video import sign_up
from tests.processes import slowed_down, wait_for

pytestmark = pytest.mark.e2e

STEP = """() => {
    const counter = document.querySelector('.job-card.status-running .step-counter');
    const match = counter && counter.textContent.match(/Step (\\d+) \\//);
    return match ? +match[1] : 0;
}"""


def test_focus_on_cancel_survives_the_progress_ticks_and_cancel_still_cancels(live_studio, page):
    sign_up(page, live_studio, "ada")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    page.fill("textarea[name=prompt]", "a slow tide over black sand")
    page.click("summary")
    page.select_option("select[name=num_frames]", "33")
    page.fill("input[name=steps]", "50")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function(f"() => ({STEP})() >= 1", timeout=120_000)

    # The tiny model's 50 steps take a second or two; slowed fourfold, the job runs long enough
    # for several progress ticks to arrive while Cancel keeps the focus, on any machine.
    pid = int(Job.objects.get().worker.rsplit(":", 1)[1])
    with slowed_down(pid, running_s=0.05, stopped_s=0.15):
        cancel = page.locator(".job-card.status-running button:has-text('Cancel')")
        cancel.focus()
        page.evaluate("() => { window.__cancel = document.activeElement; }")
        first = page.evaluate(STEP)
        page.wait_for_function(f"(first) => ({STEP})() >= first + 4", arg=first, timeout=60_000)
        assert page.evaluate(STEP) < 50, "the job ended before enough steps were seen"
        assert page.evaluate("() => document.activeElement === window.__cancel && "
                             "window.__cancel.isConnected"), "the focused Cancel was replaced"
        assert page.title().startswith("(") and "%) Studio" in page.title()

        page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.job-card')?.dataset.status === 'cancelled'",
        timeout=60_000)
    assert Job.objects.get().status == JobStatus.CANCELLED
    page.wait_for_function("() => !document.title.startsWith('(')")


def _outside_the_browser_loop(change, username: str) -> None:
    """A queue change tells the pages through the channel layer (async_to_sync), which cannot
    run in this thread: Playwright's sync API keeps an event loop in it."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: change(User.objects.get(username=username))).result()


def test_an_answer_older_than_the_socket_does_not_turn_a_running_card_back(live_studio, page):
    """The answer to Generate (the job list, made while the job waited) can arrive after the
    socket has shown the job running: the page keeps the running card, and its steps still
    tick. Before, the older list replaced it with a waiting card and the steps went nowhere."""
    sign_up(page, live_studio, "ada")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    _outside_the_browser_loop(queue.pause, "ada")  # the answer is made while the job waits
    held = []
    page.route("**/jobs/", lambda route: held.append((route, route.fetch())))
    page.fill("textarea[name=prompt]", "a slow tide over black sand")
    page.click("summary")
    page.select_option("select[name=num_frames]", "33")
    page.fill("input[name=steps]", "50")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('.job-card')?.dataset.status === "
                           "'queued'", timeout=60_000)  # the socket's card; the answer is held
    for _ in range(300):  # the route's handler runs while Playwright is called
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1, "the answer to Generate was not held"
    _outside_the_browser_loop(queue.resume, "ada")
    job = wait_for(lambda: Job.objects.filter(status=JobStatus.RUNNING).first(), 120,
                   "a worker to claim the job", interval=0.02)
    with slowed_down(int(job.worker.rsplit(":", 1)[1]), running_s=0.05, stopped_s=0.15):
        page.wait_for_function(f"() => ({STEP})() >= 1", timeout=120_000)
        route, answer = held[0]
        route.fulfill(response=answer)  # the list as it was when the job was submitted
        page.wait_for_function("() => !document.querySelector('#generation-form [disabled]')")
        first = page.evaluate(STEP)
        assert first >= 1, "the older answer turned the running card back"
        page.wait_for_function(f"(first) => ({STEP})() > first", arg=first, timeout=60_000)
    page.unroute("**/jobs/")
    page.wait_for_function(
        "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
        timeout=120_000)


def test_a_loading_jobs_clock_runs_on_between_messages(live_site, page):
    """No step message comes while a model loads: the card counts its elapsed time and the
    measured load down by itself, then says "estimating…" once past it."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.conftest import make_user
    from tests.e2e.conftest import PASSWORD, sign_in
    from tests.generation.test_studio_eta import FRAMES, cpu_worker, finished_on
    from tests.jobs import make_job

    owner = make_user("ada", PASSWORD)
    worker = cpu_worker()
    # Alive for the whole test, though no worker process reports.
    type(worker).objects.filter(pk=worker.pk).update(seen_at=timezone.now() + timedelta(hours=1))
    # A measured load of 6 s: long enough that a loaded machine's page still shows the
    # estimate counting down, short enough to see it pass.
    finished_on(owner, "", steps=8, denoise_s=1.0, load_s=6.0, encode_s=0.5, decode_s=0.5,
                store_s=0.0)
    job = make_job(owner, status=JobStatus.RUNNING, steps=8, num_frames=FRAMES)
    sign_in(page, live_site)
    Job.objects.filter(pk=job.pk).update(worker=worker.name, started_at=timezone.now())
    page.reload()
    eta = page.locator(".job-card.status-running .eta")
    assert eta.inner_text().startswith("about ")
    seconds = "(s) => +s.match(/^(\\d+) s$/)[1]"
    before = page.evaluate(f"() => ({seconds})(document.querySelector('.job-card .elapsed')"
                           ".textContent)")
    page.wait_for_function(f"(before) => ({seconds})(document.querySelector('.job-card "
                           ".elapsed').textContent) >= before + 2", arg=before, timeout=10_000)
    page.wait_for_function("() => document.querySelector('.job-card .eta').textContent"
                           " === 'estimating…'", timeout=30_000)
