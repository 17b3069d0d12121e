"""Improve prompt in Chromium under the CSP: a real models worker rewrites the prompt, the
suggestion is edited and used, the video is generated, and its page shows the prompt it used
and the one the person wrote. Dismissing a suggestion leaves the prompt alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.e2e.prompt_suggestion import dismiss_then_use_edited, improve, look_at_suggestion
from tests.editing.sources import start_studio_worker
from tests.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
IDEA = "a paper boat on a pond"


def test_a_suggestion_is_edited_used_and_kept_beside_the_original(models, page, live_site,
                                                                  tmp_path):
    make_user("ada", PASSWORD)
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    shots = Path(os.environ.get("FRAMECRAFT_SCREENSHOTS") or tmp_path)
    try:
        sign_in(page, live_site)  # the studio, with the signed-in message above it
        page.fill("textarea[name=prompt]", IDEA)
        suggested = improve(page)
        assert suggested.strip()
        assert "in Wan's style" in page.inner_text("#prompt-suggestion")
        # The suggestion is brought into view as it arrives (here at 1280 px).
        expect(page.locator("#prompt-suggestion [data-accept-suggestion]")).to_be_in_viewport()
        look_at_suggestion(page, shots, "prompt-suggestion")
        edited = "Cinematic film still, a paper boat drifts across a still pond at dawn."
        dismiss_then_use_edited(page, IDEA, edited)
        page.click("summary:has-text(\"Settings\")")
        page.fill("input[name=steps]", "2")
        page.click("#generation-form button[type=submit]")
        job = wait_for(lambda: Job.objects.filter(status=JobStatus.SUCCEEDED).first(), 240,
                       "the job to finish", interval=0.5)
        # The form after Generate still knows which words were the person's.
        page.wait_for_function("() => document.querySelector('input[name=prompt_original]')"
                               f"?.value === {IDEA!r}")
    finally:
        worker.stop()
    assert job is not None and job.video is not None
    assert (job.params["prompt"], job.params["prompt_original"]) == (edited, IDEA)
    page.goto(f"{live_site}/videos/{job.video.id}/")
    assert page.inner_text("h1.detail-prompt") == edited
    assert IDEA in page.inner_text("[data-recipe-original]")
