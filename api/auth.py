"""The API's only authentication: a key as `Authorization: Bearer <key>`. Sessions are never
read, so a signed-in browser cannot be made to call the API (and CSRF does not apply)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from ninja.security import HttpBearer

from accounts.api_keys import user_for_key
from accounts.models import User
from api.errors import ApiError


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = user_for_key(token)
        if found is None:
            return None
        user, key = found
        # The view's own code reads request.user (rate limits keyed on the user, helpers).
        request.user = user
        request.api_key = key  # type: ignore[attr-defined]
        if is_ratelimited(request, group="api", key=lambda group, req: str(key.pk),
                          rate=settings.FRAMECRAFT_API_RATE, increment=True):
            raise ApiError(429, "rate_limited",
                           "Too many requests with this key; wait a minute and try again.",
                           headers={"Retry-After": "60"})
        return user


def caller(request: HttpRequest) -> User:
    """The key's owner, as ninja's auth left it."""
    user: Any = getattr(request, "auth", None)
    assert isinstance(user, User)
    return user
