"""The web process killed while a person's upload streams in: after a restart the upload is
simply absent (no row, no file in the media store), and the same upload then goes through."""

from __future__ import annotations

import os
import signal
import socket
import time

import httpx
import numpy as np
import pytest
from django.test import Client
from PIL import Image

from generation.models import Upload
from tests.conftest import make_user
from tests.processes import free_port, start_web
from tests.uploads.files import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)
BOUNDARY = "framecraftkilltest"


def _multipart(csrf: str, data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\""
            f"\r\n\r\n{csrf}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"dunes.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + data + (
            f"\r\n--{BOUNDARY}--\r\n").encode()


def test_a_web_process_killed_mid_upload_leaves_the_upload_absent(tmp_path, settings):
    media = settings.MEDIA_ROOT = tmp_path / "media"
    env = {"FRAMECRAFT_MEDIA_ROOT": str(media)}
    noise = np.random.default_rng(1).integers(0, 255, (900, 900, 3), dtype=np.uint8)
    picture = image_bytes(Image.fromarray(noise))  # some 2.4 MB: many reads of the body
    browser = Client()
    browser.force_login(make_user("ada"))
    cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": "k" * 32}
    body = _multipart("k" * 32, picture)

    port = free_port()
    web = start_web(tmp_path / "web.log", port, **env)
    with socket.create_connection(("127.0.0.1", port)) as upload:
        upload.sendall((f"POST /uploads/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Cookie: sessionid={cookies['sessionid']}; csrftoken={'k' * 32}\r\n"
                        f"Referer: http://127.0.0.1:{port}/uploads/\r\n"
                        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode())
        upload.sendall(body[: len(body) // 2])
        # The server holds the first half (Django's ASGI handler spools the body before any
        # view runs) and waits for the rest.
        time.sleep(1.0)
        os.kill(web.process.pid, signal.SIGKILL)
        web.process.wait()
    time.sleep(0.2)

    assert Upload.objects.count() == 0
    assert not [p for p in media.rglob("*") if p.is_file()], "the media store has a file"
    web = start_web(tmp_path / "web-again.log", port, **env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies,
                          timeout=60, follow_redirects=True) as person:
            page = person.get("/uploads/")
            assert page.status_code == 200 and "dunes.png" not in page.text
            done = person.post("/uploads/", content=body,
                               headers={"Referer": f"http://127.0.0.1:{port}/uploads/",
                                        "Content-Type": f"multipart/form-data; "
                                                        f"boundary={BOUNDARY}"})
            assert done.status_code == 200 and "dunes.png" in done.text
    finally:
        web.stop()
    upload = Upload.objects.get()
    assert upload.file.size == upload.size_bytes > 0
