"""API test helpers: keys made through the real service, a client that sends them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.api_keys import create_key
from generation.presets import Preset

# As if these presets' weights were on the machine (the web side only asks).
INSTALLED = {"ltx-video", "cogvideox-5b", "wan2.1-vace-1.3b"}


class ApiClient:
    """Django's test client with a Bearer key and JSON bodies; no session, no CSRF token."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def _call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        call = getattr(self.client, method)
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return call(url, **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self._call("get", path, **headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._call("post", path, body if body is not None else {}, **headers)

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._call("put", path, body if body is not None else {}, **headers)

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._call("patch", path, body if body is not None else {}, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self._call("delete", path, **headers)

    def upload(self, path: str, filename: str, content: bytes, /, **fields: str) -> Any:
        """A multipart POST of `content` as the field `file`, with other form fields."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(f"/api/v1/{path}",
                                {"file": SimpleUploadedFile(filename, content), **fields},
                                headers=self.headers)


@pytest.fixture
def owner_key(owner) -> str:
    return create_key(owner, "tests").secret


@pytest.fixture
def stranger_key(stranger) -> str:
    return create_key(stranger, "tests").secret


@pytest.fixture
def api(owner_key) -> ApiClient:
    return ApiClient(owner_key)


@pytest.fixture
def stranger_api(stranger_key) -> ApiClient:
    return ApiClient(stranger_key)


@pytest.fixture
def installed(monkeypatch, settings, tmp_path: Path) -> None:
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed",
                        lambda self: self.id in INSTALLED or original(self))
    settings.MEDIA_ROOT = tmp_path / "media"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()
    body = response.json()
    assert body["code"] == code and body["message"], body
    assert isinstance(body["fields"], dict)
    return body
