"""Change an area that moves: in the edit studio, "Follow a subject", click it on a paused frame,
track, correct with a click off it on a later frame and track again, see the tracked mask play,
submit the masked edit and watch it finish. Chromium under the site's CSP; one real worker on
the job and models queues (tiny SAM 2, tiny Wan VACE, on the CPU)."""

from __future__ import annotations

import pytest

from generation.models import InputRole, Job, JobInput, MaskTracking
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, play_video, sign_in
from tests.editing.conftest import VACE
from tests.editing.sources import source_video, start_studio_worker
from tests.processes import free_port, start_web, wait_for
from worker.catalogue import build_pipeline
from worker.catalogue.helpers import save_helper

pytestmark = [pytest.mark.e2e, pytest.mark.worker]

SAM = "sam2.1-hiera-tiny"
# The preview plays the mask upload that the form now holds as its mask.
SHOWN = ("!document.querySelector('[data-track-preview]').hidden && "
         "document.querySelector('input[name=mask]').value === "
         "new URL(document.querySelector('[data-track-preview]').src).pathname.split('/')[2]")


def _tracked_mask_id(page) -> str:
    return page.eval_on_selector("input[name=mask]", "input => input.value")


def test_a_tracked_subject_becomes_the_mask_of_an_edit_that_finishes(models, live_site, page,
                                                                      tmp_path):
    ada = make_user("ada", PASSWORD)
    source = source_video(ada, frames=8)  # 160 × 96 at 16 fps: a square moving right
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(models / VACE)
    save_helper(SAM, models / SAM)
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    try:
        sign_in(page, live_site)
        page.goto(f"{live_site}/edit/?video={source.id}")
        page.check("input[name=task][value=edit]")
        canvas = page.locator("[data-mask-canvas]")
        canvas.wait_for(state="visible")
        page.wait_for_function(
            "() => document.querySelector('[data-mask-canvas]').width === 160")
        page.click("details.advanced summary")
        page.select_option("select[name=num_frames]", "5")
        page.fill("input[name=steps]", "2")

        page.check("input[name=mask-tool][value=track]")
        track = page.locator("[data-track-start]")
        assert track.is_disabled()  # nothing clicked yet
        # Clicks land on the hit area over the frame (it shares the canvas's top-left corner).
        hit = page.locator("[data-mask-hit]")
        box = canvas.bounding_box()
        hit.click(position={"x": box["width"] * 0.1, "y": box["height"] * 0.25})
        assert page.inner_text("[data-track-count]") == "1 on the subject, 0 off it"
        track.click()
        page.wait_for_function(f"() => {SHOWN}", timeout=180_000)
        first = _tracked_mask_id(page)
        assert "follows the subject" in page.inner_text("[data-mask-status]")

        # A correction: off the subject on frame 4 (0.25 s at VACE's 16 fps), then again.
        page.locator("[data-mask-scrub]").fill("0.25")
        hit.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.5},
                  modifiers=["Shift"])
        assert page.inner_text("[data-track-count]") == "1 on the subject, 1 off it"
        track.click()
        page.wait_for_function(f"() => {SHOWN} && "
                               f"document.querySelector('input[name=mask]').value !== '{first}'",
                               timeout=180_000)
        second = _tracked_mask_id(page)
        preview = play_video(page, "[data-track-preview]")
        assert preview["error"] is None and preview["duration"] > 0

        page.fill("textarea[name=prompt]", "a red ball rolling along a wall")
        page.click("#generation-form button[type=submit]")
        job = wait_for(lambda: Job.objects.filter(owner=ada, kind="edit").first(), 30,
                       "the edit job to be submitted", interval=0.2)
        card = f"#job-{job.id}"
        page.wait_for_selector(card)
        page.wait_for_function(
            f"() => document.querySelector('{card}')?.dataset.status === 'succeeded'",
            timeout=400_000)
    finally:
        worker.stop()
    playback = play_video(page, f"{card} video")
    assert playback["error"] is None and playback["duration"] > 0

    mask = JobInput.objects.get(job=job, role=InputRole.MASK).upload
    assert str(mask.id) == second and mask.frame_count == 5
    tracking = MaskTracking.objects.get(mask=mask)
    assert tracking.num_frames == 5 and tracking.fps == 16 and tracking.start_s == 0
    assert [c[0] for c in tracking.clicks] == [0, 4]
    assert [c[3] for c in tracking.clicks] == [True, False]
    assert tracking.clicks[0][1] == pytest.approx(16, abs=1.5)


@pytest.fixture
def site_without_tracking(models, transactional_db, tmp_path, monkeypatch):
    """VACE installed, SAM 2 not, and the built-in demo models off (no demo SAM 2 either)."""
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(models / VACE)
    port = free_port()
    web = start_web(tmp_path / "web.log", port)
    yield f"http://127.0.0.1:{port}"
    web.stop()


def test_without_the_tracking_helper_follow_a_subject_says_so_and_is_off(
        site_without_tracking, page):
    ada = make_user("ada", PASSWORD)
    source = source_video(ada, frames=8)
    sign_in(page, site_without_tracking)
    page.goto(f"{site_without_tracking}/edit/?video={source.id}")
    page.check("input[name=task][value=edit]")
    page.locator("[data-mask-canvas]").wait_for(state="visible")
    # The form's note is shown beside the mask tools, once.
    note = page.locator("#tracking-missing-note")
    assert note.is_visible() and page.locator("#tracking-missing").is_hidden()
    assert "needs the mask-tracking helper" in note.inner_text()
    assert "SAM 2" in note.inner_text() and "an admin can install it" in note.inner_text()
    track = page.locator("input[name=mask-tool][value=track]")
    assert track.is_disabled()
    assert track.get_attribute("aria-describedby") == "tracking-missing-note"
    assert page.locator("[data-track-tools]").is_hidden()
    # The drawing tools still work.
    assert page.locator("input[name=mask-tool][value=rect]").is_checked()
