"""Transfer motion in Chromium under the CSP: from a video's page to the studio's form with the
video as the source, then "Preview the control track" drawn by a real models worker and played
in the form once htmx's polling finds it ready."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, play_video, sign_in
from tests.editing.sources import source_video, start_studio_worker

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
PRESET = "wan2.1-vace-1.3b"


def test_the_control_track_preview_plays_in_the_form(models, page, live_site, tmp_path):
    # `models` first: the web server starts with its models folder.
    ada = make_user("ada", PASSWORD)
    source = source_video(ada, frames=12)
    (models / PRESET).mkdir()  # VACE reads as installed: the form offers it
    (models / PRESET / "model_index.json").write_text('{"_class_name": "WanVACEPipeline"}')
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    try:
        sign_in(page, live_site)
        page.goto(f"{live_site}/videos/{source.id}/")
        page.click("text=Transfer its motion")
        page.wait_for_selector("text=Motion from:")
        assert page.locator("input[name=task][value=control]").is_checked()
        page.select_option("select[name=control]", "canny")
        page.click("summary:has-text(\"Settings\")")
        page.select_option("select[name=num_frames]", "9")
        page.click("text=Preview the control track")
        page.wait_for_selector("#control-preview video", timeout=90_000)
    finally:
        worker.stop()
    assert "Edges (Canny) track" in page.inner_text("#control-preview")
    played = play_video(page, "#control-preview video")
    assert played["error"] is None and played["duration"] > 0.5  # 9 frames at 16 fps
