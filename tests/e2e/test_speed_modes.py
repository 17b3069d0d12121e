"""A Preview draft in the browser, then one click renders it in quality: the new job runs on
the real worker with the same seed, at Quality, and the draft's page lists it in the lineage."""

import pytest

from generation.models import Job
from tests.e2e.test_text_to_video import sign_up

pytestmark = pytest.mark.e2e


def test_a_preview_draft_is_rendered_again_in_quality(page, live_studio):
    sign_up(page, live_studio, "grace")
    page.wait_for_function("() => document.body.classList.contains('ws-offline') === false")
    page.fill("textarea[name=prompt]", "a kite over the dunes")
    preview = page.locator("input[name=speed][value=preview]")
    label = page.locator("label", has=preview)
    # Nothing was measured on this CPU worker yet: no figure, and no GPU it does not have.
    assert "Preview · estimating…" in label.inner_text()
    preview.check()
    page.click("#generation-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
        timeout=120_000)
    assert "Preview" in page.locator(".job-card").first.inner_text()

    page.locator(".job-card").first.locator("text=Details").click()
    page.wait_for_url("**/videos/**")
    assert "Preview" in page.locator(".speed-recipe").inner_text()
    page.click("button:has-text('Render in quality')")
    page.wait_for_url(f"{live_studio}/studio/")
    page.wait_for_function(
        "() => document.querySelectorAll('.job-card').length === 2 && "
        "document.querySelector('.job-card').dataset.status === 'succeeded'",
        timeout=120_000)

    draft, final = Job.objects.order_by("created_at")
    assert draft.params["speed"] == "preview" and final.params["speed"] == "quality"
    assert final.params["seed"] == draft.params["seed"]
    assert final.video.recipe["acceleration"]["mode"] == "quality"
    page.goto(f"{live_studio}/videos/{draft.video.id}/")
    made = page.locator("text=Made from this video").locator("xpath=following-sibling::ul[1]")
    assert made.locator(f"a[href='/videos/{final.video.id}/']").count() == 1
