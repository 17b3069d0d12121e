"""Improve prompt in the edit studio, in Chromium under the CSP: a real models worker rewrites
a restyle's prompt, the suggestion is edited and used, the words written survive the form
being swapped for another way of editing and another model, and the restyled video's page
shows the prompt it used and the one the person wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.e2e.prompt_suggestion import dismiss_then_use_edited, improve, look_at_suggestion
from tests.editing.conftest import VACE, gallery_video
from tests.editing.media import numbered_frames
from tests.editing.sources import start_studio_worker
from tests.processes import wait_for
from worker.catalogue import build_pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
IDEA = "the harbour as a watercolour"


def _form_for(page, task: str) -> None:
    page.wait_for_selector(f"#generation-form[data-edit-task={task}] textarea[name=prompt]")


def _original_kept(page) -> None:
    # prompt-help.js puts it back once the swapped-in form has settled.
    page.wait_for_function("(idea) => document.querySelector('input[name=prompt_original]')"
                           "?.value === idea", arg=IDEA)


def test_a_restyles_suggestion_is_used_and_kept_beside_the_original(models, page, live_site,
                                                                   tmp_path):
    ada = make_user("ada", PASSWORD)
    source = gallery_video(ada, numbered_frames(16), fps=8, prompt="a grey harbour wall")
    # VACE too, so that Extend can be picked: the form is swapped for it and back.
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(models / VACE)
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    shots = Path(os.environ.get("FRAMECRAFT_SCREENSHOTS") or tmp_path)
    try:
        sign_in(page, live_site)
        page.goto(f"{live_site}/edit/?video={source.id}&task=v2v")
        _form_for(page, "v2v")
        assert page.input_value("select[name=preset]") == "tiny"
        page.fill("textarea[name=prompt]", IDEA)
        suggested = improve(page)
        assert suggested.strip()
        assert "in Wan's style" in page.inner_text("#prompt-suggestion")
        look_at_suggestion(page, shots, "edit-prompt-suggestion")
        edited = "Watercolour painting of a grey harbour wall, soft washes, paper texture."
        dismiss_then_use_edited(page, IDEA, edited)

        # Another way of editing, then back, then another model: each swaps the form in anew.
        page.check("input[name=task][value=extend]")
        _form_for(page, "extend")
        _original_kept(page)
        assert page.locator("[data-improve-prompt]").is_enabled()
        page.check("input[name=task][value=v2v]")
        _form_for(page, "v2v")
        page.select_option("select[name=preset]", "tiny")
        page.wait_for_function("() => document.querySelector('select[name=preset]').value "
                               "=== 'tiny' && document.querySelector('input[name=strength]')")
        _original_kept(page)
        assert page.input_value("textarea[name=prompt]") == edited

        page.click("details.advanced summary")
        page.select_option("select[name=num_frames]", index=0)
        page.fill("input[name=steps]", "2")
        page.click("#generation-form button[type=submit]")
        job = wait_for(lambda: Job.objects.filter(owner=ada, kind="v2v",
                                                  status=JobStatus.SUCCEEDED).first(), 300,
                       "the restyle to finish", interval=0.5)
    finally:
        worker.stop()
    assert job is not None and job.video is not None
    assert (job.params["prompt"], job.params["prompt_original"]) == (edited, IDEA)
    assert job.video.recipe["prompt_original"] == IDEA
    page.goto(f"{live_site}/videos/{job.video.id}/")
    assert page.inner_text("h1.detail-prompt") == edited
    assert IDEA in page.inner_text("[data-recipe-original]")
