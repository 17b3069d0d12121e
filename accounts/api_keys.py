"""API keys: made with a secret shown once, found by prefix, checked against a hash.

A key reads `fc_<prefix>_<secret>`. Keys are long random strings, so a plain SHA-256 is
enough (a slow password hash would only make every API call slow); the comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiKey, User
from generation.text import text_problem

KEY_MARK = "fc"
MAX_NAME = 80
MAX_KEYS = 20
# Recording every use would write a row per request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


class KeyRefused(ValueError):
    pass


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key, shown to its owner once and never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(user: User, name: str) -> NewKey:
    name = name.strip()
    if not name:
        raise KeyRefused("Give the key a name, e.g. the script or machine that will use it.")
    if len(name) > MAX_NAME:
        raise KeyRefused(f"Keep the name under {MAX_NAME} characters.")
    if problem := text_problem(name):
        raise KeyRefused(problem)
    if ApiKey.objects.filter(owner=user, revoked_at__isnull=True).count() >= MAX_KEYS:
        raise KeyRefused(f"You have {MAX_KEYS} keys already; revoke one first.")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(owner=user, name=name, prefix=prefix, hashed=_digest(secret))
    return NewKey(key=key, secret=secret)


def user_for_key(secret: str) -> tuple[User, ApiKey] | None:
    """The owner of a live key and the key; None for anything else (unknown, revoked, an
    inactive owner, malformed)."""
    mark, _, rest = secret.partition("_")
    prefix, _, _ = rest.partition("_")
    if mark != KEY_MARK or not prefix:
        return None
    key = (ApiKey.objects.select_related("owner")
           .filter(prefix=prefix, revoked_at__isnull=True, owner__is_active=True).first())
    if key is None or not hmac.compare_digest(key.hashed, _digest(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key.owner, key


def revoke(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
