"""HEAD through the real ASGI server: headers only, the length of what GET would send."""

import http.client

import pytest
from django.urls import reverse

from tests.processes import free_port, start_web
from tests.videos import FAKE_MP4, make_video


@pytest.fixture
def web(transactional_db, tmp_path):
    port = free_port()
    server = start_web(tmp_path / "web.log", port)
    yield port
    server.stop()


def _request(port: int, method: str, path: str, **headers: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_a_shared_video_answers_head_without_a_body(web, owner):
    video = make_video(owner, visibility="unlisted", share_slug="s" * 22)
    for name, length in [("shared_file", len(FAKE_MP4)), ("shared_poster", None)]:
        path = reverse(name, args=[video.share_slug])
        response, body = _request(web, "HEAD", path)
        assert response.status == 200, name
        assert body == b""
        if length:
            assert response.getheader("Content-Length") == str(length)
            assert response.getheader("Accept-Ranges") == "bytes"
    response, body = _request(web, "HEAD", reverse("shared_file", args=[video.share_slug]),
                              Range="bytes=0-99")
    assert response.status == 206 and body == b""
    assert response.getheader("Content-Range") == f"bytes 0-99/{len(FAKE_MP4)}"
    assert response.getheader("Content-Length") == "100"
    response, body = _request(web, "HEAD", reverse("shared_video", args=[video.share_slug]))
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Type").startswith("text/html")
    response, _ = _request(web, "HEAD", reverse("shared_file", args=["x" * 22]))
    assert response.status == 404
