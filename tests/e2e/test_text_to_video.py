"""Sign up, submit a prompt, watch the steps advance live, and play the finished video."""

import pytest

from generation.models import Job, JobStatus
from tests.e2e.conftest import play_video
from tests.processes import slowed_down, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-42"


def sign_up(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/signup/")
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/studio/")


def test_a_new_user_generates_a_video_and_watches_it_live(page, live_studio):
    sign_up(page, live_studio, "ada")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    page.fill("textarea[name=prompt]", "a paper boat drifting on a pond")
    page.click("summary")
    page.select_option("select[name=size]", "96x160")
    page.fill("input[name=steps]", "40")
    page.evaluate("() => { window.__noReload = true; }")
    # The page records every step counter it shows; polling from here could miss steps or race
    # with a card being swapped between two reads.
    page.evaluate(
        """() => {
            window.__stepsSeen = [];
            const record = () => {
                const counter = document.querySelector('.job-card .step-counter');
                const match = counter && counter.textContent.match(/Step (\\d+) \\/ 40/);
                if (match && !window.__stepsSeen.includes(+match[1])) {
                    window.__stepsSeen.push(+match[1]);
                }
            };
            new MutationObserver(record).observe(
                document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.click("#generation-form button[type=submit]")

    # The tiny model's 40 steps can take well under a second on a fast machine: slowed fourfold
    # from the moment a worker claims it, the job lasts long enough for several progress ticks.
    job = wait_for(lambda: Job.objects.filter(status=JobStatus.RUNNING).first(), 120,
                   "a worker to claim the job", interval=0.02)
    card = page.locator(".job-card").first
    with slowed_down(int(job.worker.rsplit(":", 1)[1]), running_s=0.05, stopped_s=0.15):
        page.wait_for_function(
            "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
            timeout=120_000
        )
    steps_seen = set(page.evaluate("() => window.__stepsSeen"))
    assert len(steps_seen) >= 2, f"the step counter did not advance live: {steps_seen}"
    assert page.evaluate("() => window.__noReload") is True, "the page was reloaded"

    video = card.locator("video")
    video.wait_for()
    playback = play_video(page, ".job-card video")
    assert playback["error"] is None
    assert playback["duration"] > 0
    assert playback["time"] > 0
    assert card.locator("text=Download").count() == 1
