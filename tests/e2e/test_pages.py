"""Every page a person meets: no sideways scrolling on a phone, no CSP violations (the
autouse page_problems fixture), the admin working under the policy, and remix lineage
surviving a model switch in the real form."""

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.core.files.base import ContentFile

from generation import lifecycle
from generation.models import Job, JobStatus, Video
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from worker.runtime.encode import encode_mp4, poster_jpeg

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
# FRAMECRAFT_SCREENSHOTS=/some/folder keeps a screenshot of each page to look at.
SCREENSHOTS = os.environ.get("FRAMECRAFT_SCREENSHOTS")


@pytest.fixture
def ada_and_her_video(tmp_path):
    ada = make_user("ada", PASSWORD, bio="I make clips.")
    frames = np.random.default_rng(0).integers(0, 255, (8, 96, 128, 3), dtype=np.uint8)
    info = encode_mp4(frames, 8, tmp_path / "clip.mp4", {"title": "noise"})
    prompt = ("a very long prompt about a lighthouse on a cliff at dusk with waves crashing "
              "below and gulls circling, rendered in warm colours")
    job = Job.objects.create(owner=ada, preset="tiny", status=JobStatus.SUCCEEDED,
                             params={"prompt": prompt, "seed": 3, "width": 128, "height": 96,
                                     "num_frames": 8, "steps": 2, "guidance": 5.0,
                                     "negative_prompt": ""})
    video = Video(owner=ada, job=job, prompt=prompt, preset="tiny", width=info.width,
                  height=info.height, fps=8, frame_count=8, duration_s=info.duration_s,
                  size_bytes=info.size_bytes, recipe={**job.params, "preset": "tiny"},
                  visibility="public", share_slug="p" * 22)
    with (tmp_path / "clip.mp4").open("rb") as stream:
        video.file.save("clip.mp4", File(stream), save=False)
    video.poster.save("poster.jpg", ContentFile(poster_jpeg(frames[0])), save=False)
    video.save()
    Job.objects.create(owner=ada, preset="tiny", status=JobStatus.QUEUED,
                       params={**job.params, "prompt": "a queued one"})
    return ada, video


def _fits(page, name: str) -> None:
    page.wait_for_load_state("load")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
    # On a mobile viewport a too-wide page makes the browser zoom out, which widens
    # innerWidth too: compare both with the phone's width.
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert max(widths) <= PHONE["width"], (
        f"{name} ({page.url}) is {widths[0]} px wide, the screen {PHONE['width']} px")


def _each_fits(page, base_url: str, pages: dict[str, str]) -> None:
    """Open each page (name: path), which must answer and fit the phone's screen."""
    for name, path in pages.items():
        assert page.goto(base_url + path).status == 200, path
        _fits(page, name)


def test_every_page_fits_a_phone_screen(browser, live_site, ada_and_her_video):
    ada, video = ada_and_her_video
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    _each_fits(page, live_site, {
        "sign-in": "/accounts/login/",
        "sign-up": "/accounts/signup/",
        "shared": f"/s/{video.share_slug}/",
        "public-profile": f"/u/{ada.username}/",
        "explore-signed-out": "/explore/",
        "password-reset": "/accounts/password/reset/",
    })
    sign_in(page, live_site)
    page.locator(".job-card").first.wait_for()
    _fits(page, "studio")
    page.click("summary")  # the settings, open
    _fits(page, "studio-settings")
    _each_fits(page, live_site, {
        "gallery": "/gallery/",
        "gallery-filtered": "/gallery/?q=lighthouse&kind=t2v&period=week&favourites=1",
        "detail": f"/videos/{video.id}/",
        "profile": "/profile/",
        "my-uploads": "/uploads/",
        "explore": "/explore/",
        "shared-signed-in": f"/s/{video.share_slug}/",
        "public-profile-signed-in": f"/u/{ada.username}/",
        "emails": "/accounts/email/",
        "password-change": "/accounts/password/change/",
    })
    context.close()


def test_the_share_link_selects_itself_on_click(page, live_site, ada_and_her_video):
    _, video = ada_and_her_video
    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video.id}/")
    page.click("#share-url")
    selected = page.evaluate(
        "() => { const f = document.querySelector('#share-url');"
        " return [f.selectionStart, f.selectionEnd, f.value.length]; }")
    assert selected[0] == 0 and selected[1] == selected[2] > 0


def test_switching_the_model_while_remixing_keeps_the_lineage(page, live_site,
                                                              ada_and_her_video):
    _, video = ada_and_her_video
    sign_in(page, live_site)
    page.goto(f"{live_site}/studio/?remix={video.id}")
    assert page.locator("text=Remixing a video").count() == 1
    with page.expect_response(lambda r: "/studio/form/" in r.url) as swapped:
        page.select_option("select[name=preset]", "tiny")  # re-renders the form
    assert swapped.value.ok
    page.locator("#generation-form").wait_for()
    assert page.locator("input[name=remix_of]").input_value() == str(video.id)
    page.fill("textarea[name=prompt]", "the lighthouse, at night")
    with page.expect_response(lambda r: r.url.endswith("/jobs/")) as submitted:
        page.click("#generation-form button[type=submit]")
    assert submitted.value.ok
    job = Job.objects.get(params__prompt="the lighthouse, at night")
    assert lifecycle.remix_source(job) == video


def test_the_admin_works_under_the_policy(browser, live_site, ada_and_her_video):
    _, video = ada_and_her_video
    make_user("root", PASSWORD, is_staff=True, is_superuser=True)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_site, "root", form="admin")
    for path in ("/admin/", "/admin/generation/video/",
                 f"/admin/generation/video/{video.id}/change/", "/admin/generation/job/",
                 "/admin/generation/modeloperation/", "/admin/accounts/user/",
                 "/admin/accounts/user/add/"):
        response = page.goto(live_site + path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
    # The admin's own scripts run: the side bar's filter box and the "select all" box.
    page.goto(f"{live_site}/admin/generation/video/")
    page.check("#action-toggle")
    assert page.locator("input.action-select:checked").count() == 1
    context.close()
