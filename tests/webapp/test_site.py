"""The site's chrome: the landing page, the sign-up form and e-mail, error pages, the favicon,
and system checks that stay quiet on SQLite."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.contrib.sites.models import Site
from django.template.loader import render_to_string

from tests.processes import ROOT, service_env
from tests.videos import make_video

pytestmark = pytest.mark.django_db


def test_signed_out_home_says_what_the_studio_does_with_public_examples(client, owner):
    public = make_video(owner, "a public lighthouse", visibility="public", share_slug="p" * 22)
    private = make_video(owner, "a private garden")
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for feature in ("Text, image or subject to video", "Edit and extend", "Live progress",
                    "Gallery and sharing"):
        assert feature in page
    assert 'href="/accounts/signup/"' in page and 'href="/accounts/login/"' in page
    assert f"/s/{public.share_slug}/" in page and public.prompt in page
    assert private.prompt not in page


def test_signed_in_home_is_the_studio(owner_client):
    response = owner_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/studio/"


def test_the_favicon_address_leads_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_the_site_is_named_framecraft_at_its_own_domain(settings):
    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.name, site.domain) == ("Framecraft", settings.FRAMECRAFT_SITE_DOMAIN)
    assert settings.FRAMECRAFT_SITE_DOMAIN != "example.com"


def test_the_sign_up_email_names_framecraft_not_example_com(client, mailoutbox):
    response = client.post("/accounts/signup/", {
        "email": "grace@framecraft.test", "username": "grace",
        "password1": "a-long-enough-pass-42", "password2": "a-long-enough-pass-42"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert "Framecraft" in mail.subject
    assert "example.com" not in mail.subject + mail.body
    assert "Framecraft" in mail.body


def test_mismatched_passwords_are_reported_at_the_second_password(client):
    response = client.post("/accounts/signup/", {
        "email": "grace@framecraft.test", "username": "grace",
        "password1": "a-long-enough-pass-42", "password2": "another-pass-43"})
    page = response.content.decode()
    # The error sits in the field block of password2, after its input, not above the form.
    block = re.search(r'<div class="field has-error">(.*?)</div>', page, re.S)
    assert block, page
    assert 'name="password2"' in block.group(1)
    assert block.group(1).index('name="password2"') < block.group(1).index(
        "You must type the same password each time.")
    assert 'class="errors"' not in page  # nothing at the top of the form
    labels = re.findall(r'<label for="id_(\w+)">', page)
    assert labels == ["email", "username", "password1", "password2"]


def test_a_missing_page_is_the_sites_own_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and 'class="topbar"' in page
    assert 'href="/explore/"' in page


def test_the_500_page_renders_without_a_request():
    # Django renders it with no context: nothing in it may need a request or the database.
    page = render_to_string("500.html")
    assert "Something went wrong" in page and 'href="/"' in page


def test_the_api_reference_links_back_to_the_site(client):
    page = client.get("/api/v1/docs").content.decode()
    assert 'class="topbar"' in page and 'href="/explore/"' in page


def test_manage_py_prints_no_warnings_on_sqlite(tmp_path):
    # The database checks (models.W047 among them) run on every migrate and runserver.
    env = {**service_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--database", "default"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, (
        result.stdout + result.stderr)
