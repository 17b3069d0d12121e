"""The profile's API keys and the API reference in Chromium, under the site's CSP."""

from __future__ import annotations

import httpx
import pytest

from accounts.models import ApiKey
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


def test_a_key_is_made_used_and_revoked_from_the_profile(page, live_site):
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.goto(live_site + "/profile/")
    page.fill("#api-key-name", "my script")
    page.click("#api-keys >> text=Make a key")
    secret = page.locator("[data-new-key] code.secret").inner_text()
    assert secret.startswith("fc_")
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{live_site}/api/v1/jobs", headers=headers).status_code == 200

    page.reload()  # shown once: gone from the page now
    assert secret not in page.content() and "my script" in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#api-keys >> text=Revoke")
    page.locator("#api-keys >> text=revoked").wait_for()
    assert ApiKey.objects.get().is_revoked
    assert httpx.get(f"{live_site}/api/v1/jobs", headers=headers).status_code == 401


def test_the_api_reference_renders_from_vendored_swagger_ui(page, live_site):
    page.goto(live_site + "/api/v1/docs")
    page.locator("text=Framecraft API").first.wait_for(timeout=20000)
    page.locator(".opblock-summary-path", has_text="/api/v1/jobs/{job_id}/events").first.wait_for()
    assert page.locator(".opblock").count() >= 15
