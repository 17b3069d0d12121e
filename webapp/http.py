"""Request types as our middleware leaves them, for type checking views."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class HtmxRequest(HttpRequest):
    """Any request: django-htmx's middleware adds `htmx`."""

    htmx: HtmxDetails


class SignedInRequest(HtmxRequest):
    """A request to a `login_required` view: its user is a signed-in person."""

    user: User
