"""API keys: made on the profile page (shown once), stored as prefix + hash, revoked → 401."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.api_keys import create_key
from accounts.models import ApiKey
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import csrf_post

pytestmark = pytest.mark.django_db


def _make_key(client: Client, name: str):
    return csrf_post(client, "/profile/api-keys/", {"name": name}, HTTP_HX_REQUEST="true")


def test_a_key_made_on_the_profile_is_shown_once_and_only_its_hash_is_kept(owner_client, owner):
    response = _make_key(owner_client, "laptop script")
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'<code class="secret"[^>]*>(fc_[\w-]+)</code>', html).group(1)
    key = ApiKey.objects.get(owner=owner)
    assert key.name == "laptop script" and secret.startswith(f"fc_{key.prefix}_")
    assert secret not in key.hashed and len(key.hashed) == 64
    # The profile page lists it without the secret.
    page = owner_client.get("/profile/").content.decode()
    assert "laptop script" in page and f"fc_{key.prefix}_" in page and secret not in page

    api = ApiClient(secret)
    assert api.get("presets").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert "last used" in owner_client.get("/profile/").content.decode()


def test_a_revoked_key_gets_401(owner_client, owner):
    html = _make_key(owner_client, "ci").content.decode()
    secret = re.search(r'<code class="secret"[^>]*>(fc_[\w-]+)</code>', html).group(1)
    api = ApiClient(secret)
    assert api.get("jobs").status_code == 200
    key = ApiKey.objects.get(owner=owner)
    response = csrf_post(owner_client, f"/profile/api-keys/{key.pk}/revoke/",
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "revoked" in response.content.decode()
    refused = api.get("jobs")
    assert_problem(refused, 401, "unauthenticated")
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_keys_are_made_and_revoked_with_csrf_and_by_their_owner_only(owner_client, owner,
                                                                     stranger_client):
    assert owner_client.post("/profile/api-keys/", {"name": "x"}).status_code == 403  # no token
    assert not ApiKey.objects.exists()
    _make_key(owner_client, "mine")
    key = ApiKey.objects.get(owner=owner)
    assert csrf_post(stranger_client, f"/profile/api-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert not key.is_revoked


def test_a_key_needs_a_name(owner_client):
    response = _make_key(owner_client, "  ")
    assert response.status_code == 422 and "name" in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nonsense", "Bearer fc_abc_def",
                                    "Basic b3duZXI6cGFzcw=="])
def test_anything_but_a_live_key_gets_401(header, owner_key):
    client = Client()
    headers = {"Authorization": header} if header else {}
    assert_problem(client.get("/api/v1/jobs", headers=headers), 401, "unauthenticated")


def test_a_signed_in_browser_session_is_not_an_api_credential(owner_client):
    assert_problem(owner_client.get("/api/v1/jobs"), 401, "unauthenticated")
    response = owner_client.post("/api/v1/jobs", {"preset": "tiny", "prompt": "x"},
                                 content_type="application/json")
    assert_problem(response, 401, "unauthenticated")


def test_a_key_of_an_inactive_person_is_refused(api, owner):
    owner.is_active = False
    owner.save()
    assert_problem(api.get("jobs"), 401, "unauthenticated")


def test_keys_are_rate_limited(api, settings):
    settings.RATELIMIT_ENABLE = True
    settings.FRAMECRAFT_API_RATE = "3/m"
    from django.core.cache import cache

    cache.clear()
    assert [api.get("presets").status_code for _ in range(3)] == [200, 200, 200]
    limited = api.get("presets")
    assert_problem(limited, 429, "rate_limited")
    assert limited["Retry-After"] == "60"


def test_admins_see_keys_and_webhooks_but_never_a_secret(owner, client):
    from tests.conftest import make_user

    admin = make_user("root", is_staff=True, is_superuser=True)
    key = create_key(owner, "ci")
    client.force_login(admin)
    listing = client.get("/admin/accounts/apikey/")
    assert listing.status_code == 200 and key.key.prefix in listing.content.decode()
    change = client.get(f"/admin/accounts/apikey/{key.key.pk}/change/").content.decode()
    assert key.secret not in change and key.key.hashed not in change
    assert client.get("/admin/api/webhookendpoint/").status_code == 200
