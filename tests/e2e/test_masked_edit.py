"""Open a video, mark a rectangle on one of its frames, submit a masked edit, and watch the
result play: in Chromium, under the site's CSP, with a real worker running a tiny Wan VACE."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.models import InputRole, Job, JobInput
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, play_video, sign_in
from tests.editing.conftest import VACE, gallery_video
from tests.editing.media import numbered_frames
from tests.processes import start_worker, wait_for
from worker.catalogue import build_pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture
def vace_studio(models: Path, live_site, tmp_path: Path):
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(models / VACE)
    worker = start_worker(tmp_path / "worker.log", FRAMECRAFT_DEVICE="cpu",
                          FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    yield live_site
    worker.stop()


@pytest.fixture
def vace_site(models: Path, live_site):
    """The site with VACE installed and no worker: for what happens in the browser alone."""
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(models / VACE)
    return live_site


def _wait(find):
    return wait_for(find, 30, "the edit job to be submitted", interval=0.2)


def test_a_rectangle_drawn_on_a_frame_becomes_a_masked_edit_that_plays(vace_studio, page):
    ada = make_user("ada", PASSWORD)
    source = gallery_video(ada, numbered_frames(16), fps=8, prompt="a grey harbour wall")
    sign_in(page, vace_studio)
    page.goto(f"{vace_studio}/videos/{source.id}/")
    page.click(".action-bar >> text=Edit")
    page.wait_for_url("**/edit/?video=*")
    page.check("input[name=task][value=edit]")
    canvas = page.locator("[data-mask-canvas]")
    canvas.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-mask-canvas]').width === 96")

    # Scrub to a frame, then drag a rectangle over the middle of it.
    page.locator("[data-mask-scrub]").fill("1")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('input[name=mask_file]').files.length === 1")

    page.fill("textarea[name=prompt]", "a red door in a grey harbour wall")
    page.click("details.advanced summary")
    page.select_option("select[name=num_frames]", "5")
    page.fill("input[name=steps]", "2")
    page.click("#generation-form button[type=submit]")

    # The source's own job is in the list too: follow the edit's card.
    job = _wait(lambda: Job.objects.filter(owner=ada, kind="edit").first())
    card = f"#job-{job.id}"
    page.wait_for_selector(card)
    page.wait_for_function(
        f"() => document.querySelector('{card}')?.dataset.status === 'succeeded'",
        timeout=400_000)
    playback = play_video(page, f"{card} video")
    assert playback["error"] is None and playback["duration"] > 0 and playback["time"] > 0

    job.refresh_from_db()
    assert job.params["mode"] == "change" and job.video.frame_count == 5
    mask = JobInput.objects.get(job=job, role=InputRole.MASK).upload
    assert (mask.width, mask.height) == (96, 64)  # drawn at the video's own size
    from PIL import Image

    with mask.file.open("rb") as stream:
        pixels = Image.open(stream).convert("L")
        # The rectangle, white, where it was dragged; black elsewhere.
        assert pixels.getpixel((40, 30)) == 255 and pixels.getpixel((5, 5)) == 0


def test_the_players_controls_play_the_video_and_mark_nothing(vace_site, page):
    ada = make_user("ada", PASSWORD)
    source = gallery_video(ada, numbered_frames(32), fps=8, prompt="a grey harbour wall")
    sign_in(page, vace_site)
    page.goto(f"{vace_site}/edit/?video={source.id}")
    page.check("input[name=task][value=edit]")
    page.locator("[data-mask-canvas]").wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-mask-canvas]').width === 96")

    # Chromium's play button: the control bar's left end, above the timeline at the foot.
    box = page.locator("[data-mask-video]").bounding_box()
    page.mouse.click(box["x"] + 24, box["y"] + box["height"] - 47)
    page.wait_for_function("() => !document.querySelector('[data-mask-video]').paused")
    assert page.eval_on_selector("input[name=mask_file]", "input => input.files.length") == 0
    assert page.inner_text("[data-mask-status]") == ""

    # Above the bar the frame is still for marking: a drag there marks an area.
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('input[name=mask_file]').files.length === 1")
