"""Bodies a client got wrong: multipart without a boundary, JSON that is not JSON or not
UTF-8. Each is the documented {code, message, fields} with a status the document lists."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.conftest import assert_problem
from tests.editing.conftest import gallery_video
from tests.editing.media import numbered_frames

pytestmark = pytest.mark.django_db


def _documented(openapi: dict, path: str, method: str) -> set[str]:
    return set(openapi["paths"][f"/api/v1{path}"][method]["responses"])


def test_multipart_without_a_boundary_is_a_documented_400(api):
    response = api.client.post("/api/v1/uploads", data=b"--x\r\n\r\n",
                               content_type="multipart/form-data", headers=api.headers)
    body = assert_problem(response, 400, "invalid_body")
    assert "boundary" in body["message"]
    assert "400" in _documented(api.get("openapi.json").json(), "/uploads", "post")


def test_the_sites_upload_form_without_a_boundary_is_a_400_page(owner):
    client = Client()  # the boundary is missing before CSRF can be read
    client.force_login(owner)
    response = client.post(reverse("uploads"), data=b"--x\r\n\r\n",
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"] and "Bad request" in response.text


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe{}", b"[1, 2"])
def test_a_body_that_is_not_json_is_a_documented_400(api, owner, data):
    video = gallery_video(owner, numbered_frames(2, 32, 32), 8)
    openapi = api.get("openapi.json").json()
    for method, path in (("post", "/jobs"), ("post", "/webhooks"),
                         ("put", f"/videos/{video.id}/sharing")):
        call = getattr(api.client, method)
        response = call(f"/api/v1{path}", data=data, content_type="application/json",
                        headers=api.headers)
        assert_problem(response, 400, "invalid_body")
        documented_path = path.replace(str(video.id), "{video_id}")
        assert "400" in _documented(openapi, documented_path, method), path
