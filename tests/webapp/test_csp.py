"""A strict Content-Security-Policy on every page: no inline scripts, handlers or styles."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import csrf_post
from tests.videos import make_video

ROOT = Path(__file__).resolve().parents[2]


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _assert_strict(response) -> None:
    policy = _policy(response)
    for directive in ("default-src", "script-src", "style-src"):
        assert policy[directive] == ["'self'"], (directive, policy)
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["media-src"] == ["'self'"]
    assert set(policy["img-src"]) <= {"'self'", "data:", "blob:"}
    for values in policy.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "'unsafe-hashes'"} & set(values)


def test_studio_gallery_and_profile_send_a_strict_policy(owner_client, owner):
    video = make_video(owner)
    for url in (reverse("studio"), reverse("gallery"), reverse("profile"),
                reverse("video_detail", args=[video.id]), reverse("explore")):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        _assert_strict(response)


def test_sign_in_and_a_shared_page_send_a_strict_policy(owner_client, owner):
    video = make_video(owner)
    csrf_post(owner_client, reverse("share_video", args=[video.id]), {"visibility": "public"})
    video.refresh_from_db()
    visitor = Client()
    for url in (reverse("account_login"), reverse("account_signup"),
                reverse("shared_video", args=[video.share_slug]),
                reverse("public_profile", args=[owner.username])):
        response = visitor.get(url)
        assert response.status_code == 200, url
        _assert_strict(response)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(ld\+)?json\")[^>]*>"),
     "an inline script"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "an inline style attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
]


def test_no_template_has_inline_scripts_handlers_or_styles():
    problems = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern, what in INLINE:
            if pattern.search(text):
                problems.append(f"{template.relative_to(ROOT)}: {what}")
        # {# #} comments end at the line's end; a longer one would show up on the page.
        if re.search(r"\{#(?:(?!#\}).)*$", text, re.M):
            problems.append(f"{template.relative_to(ROOT)}: a {{# comment over several lines")
    assert not problems, problems


def test_htmx_does_not_inject_its_indicator_style(client, db):
    html = client.get(reverse("account_login")).content.decode()
    config = html.split('name="htmx-config" content=\'')[1].split("'")[0]
    assert '"includeIndicatorStyles": false' in config
    css = (ROOT / "static/css/app.css").read_text()
    assert ".htmx-indicator" in css and ".htmx-request .htmx-indicator" in css


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("https://s3.example.com:9000", "https://s3.example.com:9000"),
    (None, "https://clips.s3.amazonaws.com"),
])
def test_s3_media_is_allowed_when_configured(endpoint, expected):
    env = {"FRAMECRAFT_STORAGE": "s3", "FRAMECRAFT_S3_BUCKET": "clips"}
    if endpoint:
        env["FRAMECRAFT_S3_ENDPOINT_URL"] = endpoint
    code = ("from django.conf import settings; d = settings.CONTENT_SECURITY_POLICY['DIRECTIVES'];"
            "print(' '.join(d['media-src'])); print(' '.join(d['img-src']))")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code], cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "webapp.settings",
             "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True, check=True)
    media, images = result.stdout.splitlines()
    media = media.split()
    assert media[0] == "'self'" and expected in media
    assert all(re.fullmatch(r"https://[a-z0-9.-]+(:\d+)?", origin) for origin in media[1:])
    assert set(media) <= set(images.split())
