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
from tests.processes import wait_for
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


def test_a_tracked_subject_becomes_the_mask_of_an_edit_that_finishes(page, models, live_site,
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
        box = canvas.bounding_box()
        canvas.click(position={"x": box["width"] * 0.1, "y": box["height"] * 0.25})
        assert page.inner_text("[data-track-count]") == "1 on the subject, 0 off it"
        track.click()
        page.wait_for_function(f"() => {SHOWN}", timeout=180_000)
        first = _tracked_mask_id(page)
        assert "follows the subject" in page.inner_text("[data-mask-status]")

        # A correction: off the subject on frame 4 (0.25 s at VACE's 16 fps), then again.
        page.locator("[data-mask-scrub]").fill("0.25")
        canvas.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.75},
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
