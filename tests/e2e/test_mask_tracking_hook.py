"""framecraft.trackMask(), the mask editor's hook, in a real browser under the site's CSP: it
posts clicks with the CSRF token, waits for a real worker on the models queue (tiny SAM 2), and
hands back the mask upload; a refusal comes back as an Error with the server's message."""

from __future__ import annotations

import pytest

from generation.models import Upload
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.editing.sources import source_video, start_studio_worker
from worker.catalogue.helpers import save_helper

pytestmark = [pytest.mark.e2e, pytest.mark.worker]

TRACK = """async ([source, clicks]) => {
    const seen = [];
    try {
        const state = await window.framecraft.trackMask({
            source_video: source, clicks, start_s: 0, num_frames: 4, fps: 16, pollMs: 200,
            onStatus: (s) => seen.push(s.status)});
        return {ok: true, upload: state.mask_upload, url: state.mask_url, seen};
    } catch (error) {
        return {ok: false, message: error.message, seen};
    }
}"""


def test_the_hook_returns_the_tracked_mask_upload(page, live_site, models, tmp_path,
                                                 page_problems):
    page_problems.allow_refusals(f"{live_site}/masks/track/")
    ada = make_user("ada", PASSWORD)
    source = source_video(ada, frames=8)
    save_helper("sam2.1-hiera-tiny", models / "sam2.1-hiera-tiny")
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    try:
        sign_in(page, live_site)
        refused = page.evaluate(TRACK, [str(source.id), [[0, 500, 10, True]]])
        assert refused == {"ok": False, "seen": [],
                           "message": "Click 1 at (500, 10) is outside the 160 × 96 frame."}
        result = page.evaluate(TRACK, [str(source.id), [[0, 40, 30, True]]])
    finally:
        worker.stop()
    assert result["ok"], (result, worker.log())
    assert result["seen"][0] == "queued" and result["seen"][-1] == "succeeded"
    mask = Upload.objects.get(pk=result["upload"])
    assert mask.owner == ada and mask.frame_count == 4
    response = page.request.get(live_site + result["url"])
    assert response.status == 200
