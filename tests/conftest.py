"""Fixtures shared by the whole suite: real services, users, a CSRF-enforcing client."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from webapp import embedded_redis


@pytest.fixture(scope="session", autouse=True)
def redis_server() -> Iterator[None]:
    """The real Redis when REDIS_URL is set, else the embedded one (started if needed)."""
    process = None
    if settings.REDIS_IS_EMBEDDED:
        process = embedded_redis.start(Path(settings.DATA_DIR))
    yield
    if process is not None:
        process.terminate()
        process.wait(10)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    # Rate-limit counters live in the shared Redis; only the tests about them turn them on.
    settings.RATELIMIT_ENABLE = False


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder, a private Hugging Face cache, and a Hub that cannot be reached
    (this machine has no internet: downloads must fail clearly, never hang)."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(folder))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    return folder


@pytest.fixture
def offline_model_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No network, no real Hugging Face cache, an empty models folder; returns that folder."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Bitwise comparisons with direct CPU calls need the runtime on the CPU, GPU or not.
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cpu")
    return models


@pytest.fixture
def password() -> str:
    return "correct-horse-battery-staple-42"


@functools.cache
def _hashed(password: str) -> str:
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def make_user(username: str, password: str = "correct-horse-battery-staple-42", **fields):
    """A user whose password works everywhere (a real PBKDF2 hash, so servers the tests start
    accept it), hashed once per password: at 0.4 s a hash, hashing for every test's users
    would cost minutes."""
    from accounts.models import User

    fields.setdefault("email", f"{username}@example.com")
    return User.objects.create(username=username, password=_hashed(password), **fields)


def _make_user(username: str, password: str):
    return make_user(username, password)


@pytest.fixture
def owner(db, password):
    return _make_user("owner", password)


@pytest.fixture
def stranger(db, password):
    return _make_user("stranger", password)


@pytest.fixture
def csrf_client() -> Client:
    """A client that enforces CSRF like a browser's requests are checked."""
    return Client(enforce_csrf_checks=True)


def csrf_token_of(client: Client, url: str = "/accounts/login/") -> str:
    """GET a page so the CSRF cookie is set, and return the token to post back."""
    response = client.get(url)
    assert response.status_code == 200
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def csrf_post(client: Client, url: str, data: dict | None = None, **extra):
    """POST like a browser form: with the CSRF token from the client's cookie."""
    if settings.CSRF_COOKIE_NAME not in client.cookies:
        client.get("/studio/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


@pytest.fixture
def stranger_client(stranger) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(stranger)
    return client
