"""Every page a person meets, in the light and the dark theme: no serious or critical axe-core
finding (contrast, names of links and buttons, labels, landmarks …), and no console error (the
autouse page_problems fixture)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from generation.models import CutoutStatus, SubjectPhoto
from generation.uploads import accept_upload
from storyboards.models import Shot, Storyboard
from tests.conftest import make_user
from tests.e2e.a11y import axe_violations, describe
from tests.e2e.conftest import PASSWORD, sign_in
from tests.i2v.helpers import png_bytes
from tests.subjects.conftest import make_subject
from tests.videos import make_video
from worker.runtime.encode import poster_jpeg

pytestmark = pytest.mark.e2e

SCREENSHOTS = os.environ.get("FRAMECRAFT_SCREENSHOTS")
NOT_FOUND = "/no-such-page/"
SIGNED_OUT = {
    "landing": "/",
    "sign-in": "/accounts/login/",
    "sign-up": "/accounts/signup/",
    "password-reset": "/accounts/password/reset/",
    "explore-signed-out": "/explore/",
    "not-found": NOT_FOUND,
}


@pytest.fixture
def adas_things(db):
    """Ada's account with something on every page: a public video, an upload, a subject."""
    ada = make_user("ada", PASSWORD, bio="I make clips.")
    video = make_video(ada, "a lighthouse on a cliff at dusk", visibility="public",
                       share_slug="p" * 22)
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    video.poster.save("poster.jpg", ContentFile(poster_jpeg(frame)))
    subject = make_subject(ada, "Rex", photos=0)
    for position, colour in enumerate(((200, 90, 40), (40, 90, 200))):
        # Through the upload path, as the site stores them: with their thumbnails.
        photo = accept_upload(ada, SimpleUploadedFile(f"rex{position}.png",
                                                      png_bytes((128, 96), colour)))
        SubjectPhoto.objects.create(subject=subject, position=position, original=photo,
                                    cutout_status=CutoutStatus.UNAVAILABLE, use_cutout=False)
    board = Storyboard.objects.create(owner=ada, title="Harbour")
    Shot.objects.create(storyboard=board, position=1, prompt="a harbour at dawn",
                        preset="demo-ltx2", num_frames=9, seed=1)
    Shot.objects.create(storyboard=board, position=2, prompt="the boats leave",
                        preset="demo-ltx2", num_frames=9, seed=2, transition="continue")
    return ada, video, subject


def _signed_in_pages(ada, video, subject) -> dict[str, str]:
    return {
        "studio": "/studio/",
        "gallery": "/gallery/",
        "video": f"/videos/{video.id}/",
        "edit-studio": f"/edit/?video={video.id}",
        "uploads": "/uploads/",
        "subjects": "/subjects/",
        "subject": subject.get_absolute_url(),
        "new-subject": "/subjects/new/",
        "loras": "/loras/",
        "storyboards": "/storyboards/",
        "storyboard": Storyboard.objects.get(owner=ada).get_absolute_url(),
        "explore": "/explore/",
        "profile": "/profile/",
        "public-profile": f"/u/{ada.username}/",
        "shared": f"/s/{video.share_slug}/",
        "api-docs": "/api/v1/docs",
        "not-found-signed-in": NOT_FOUND,
    }


def _serve_the_sites_404(page, base_url: str, user=None) -> None:
    """The live server runs with DEBUG on, which answers a missing page with Django's debug
    page; the browser gets the site's own 404 instead, as rendered with DEBUG off (the
    test settings), with its headers (the CSP among them)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(NOT_FOUND)
    assert response.status_code == 404
    page.route(base_url + NOT_FOUND, lambda route: route.fulfill(
        status=404, headers=dict(response.items()), body=response.content))


def _walk(page, base_url: str, pages: dict[str, str], look: str, found: list[str],
          read_stylesheets: bool = True) -> None:
    for name, path in pages.items():
        page.goto(base_url + path)
        page.wait_for_load_state("load")
        if name == "api-docs":
            page.locator(".swagger-ui .opblock").first.wait_for()
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{look}.png"), full_page=True)
        if violations := axe_violations(page, read_stylesheets):
            found.append(f"{name} ({look}, {path}):\n{describe(violations)}")


SCREENS = {
    "desktop": {"viewport": {"width": 1440, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("screen", SCREENS)
def test_every_page_passes_axe(browser, live_site, adas_things, page_problems, screen, scheme):
    ada, video, subject = adas_things
    # The not-found pages answer 404 on purpose, which the browser logs as a failed load.
    page_problems.allow("/no-such-page/: Failed to load resource: the server responded with a "
                        "status of 404")
    context = browser.new_context(**SCREENS[screen], color_scheme=scheme)
    page = context.new_page()
    found: list[str] = []
    _serve_the_sites_404(page, live_site)
    _walk(page, live_site, SIGNED_OUT, f"{screen}-{scheme}", found)
    sign_in(page, live_site)
    page.unroute(live_site + NOT_FOUND)
    _serve_the_sites_404(page, live_site, ada)
    _walk(page, live_site, _signed_in_pages(ada, video, subject), f"{screen}-{scheme}",
          found)
    context.close()
    assert not found, "\n\n".join(found)


ADMIN_PAGES = {
    "admin-index": "/admin/",
    "admin-models": "/admin/generation/modeloperation/",
    "admin-workers": "/admin/generation/workerstate/",
    "admin-queue": "/admin/generation/queuemember/",
    "admin-jobs": "/admin/generation/job/",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("screen", SCREENS)
def test_the_admins_pages_pass_axe(browser, live_site, adas_things, page_problems, screen,
                                   scheme):
    """The pages an admin runs the site from (Django's admin, with the site's own Models,
    Worker states and Queue pages): no serious or critical finding either."""
    make_user("root", PASSWORD, is_staff=True, is_superuser=True)
    context = browser.new_context(**SCREENS[screen], color_scheme=scheme)
    page = context.new_page()
    sign_in(page, live_site, "root", form="admin")
    found: list[str] = []
    # Django's admin stylesheets @import others (see axe_violations).
    _walk(page, live_site, ADMIN_PAGES, f"{screen}-{scheme}", found, read_stylesheets=False)
    context.close()
    assert not found, "\n\n".join(found)
