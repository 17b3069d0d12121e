"""The web image installs Framecraft without its `worker` extra (docker/web.Dockerfile). Its
commands run here with every module outside the base requirements made unimportable
(tests/web_image.py): the checks its build runs, and the site serving a signed-in person."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import httpx
import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from generation.models import Upload
from tests.processes import ROOT, Service, free_port, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WEB_IMAGE = [sys.executable, "-m", "tests.web_image"]


def test_the_web_images_build_and_start_commands_run_without_the_worker_extra(tmp_path):
    for command in (["manage.py", "check"], ["manage.py", "migrate", "--check"],
                    ["manage.py", "collectstatic", "--noinput", "--dry-run"]):
        done = subprocess.run([*WEB_IMAGE, *command], cwd=ROOT, env=service_env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr[-3000:])


@pytest.fixture
def web_image_site(tmp_path):
    port = free_port()
    web = Service([*WEB_IMAGE, "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1",
                   "--port", str(port)], service_env(), tmp_path / "web.log")
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert web.process.poll() is None, web.log()
        try:
            return httpx.get(f"{url}/accounts/login/", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answering, 60, "the web image's server to answer")
    yield url
    web.stop()
    print(web.log()[-5000:])  # shown when the test fails


def test_the_web_image_serves_the_studio_and_takes_a_16_bit_image(owner, web_image_site):
    login = Client()
    login.force_login(owner)
    cookies = {settings.SESSION_COOKIE_NAME: login.cookies[settings.SESSION_COOKIE_NAME].value}
    with httpx.Client(base_url=web_image_site, cookies=cookies, timeout=30) as client:
        studio = client.get("/studio/")
        assert studio.status_code == 200 and "Generate" in studio.text
        uploads = client.get("/uploads/")
        assert uploads.status_code == 200
        # A 16-bit greyscale PNG: accepting it scales it to 8 bits with numpy.
        png = io.BytesIO()
        Image.new("I;16", (80, 80), 65535).save(png, "PNG")
        sent = client.post("/uploads/", files={"file": ("scan.png", png.getvalue(), "image/png")},
                           headers={"X-CSRFToken": client.cookies["csrftoken"],
                                    "Referer": f"{web_image_site}/uploads/"})
    assert sent.status_code in (200, 302), re.findall(r"role=\"alert\">([^<]*)", sent.text)
    upload = Upload.objects.get(owner=owner)
    with Image.open(upload.file.path) as stored:
        assert stored.mode == "RGB" and stored.getpixel((10, 10)) == (255, 255, 255)
