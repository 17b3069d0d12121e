"""When a service the site stands on is away (PostgreSQL restarting, Redis stopped, the broker
unreachable), people get a 503 that says so and when to retry, not the 500 page of a bug; the
API answers its own error shape. Django's connections and redis-py reconnect by themselves on
the next request, so nothing needs restarting once the service is back."""

from __future__ import annotations

import sys
from collections.abc import Callable

import kombu.exceptions
import redis.exceptions
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

SERVICE_DOWN: tuple[type[BaseException], ...] = (
    db.OperationalError,  # cannot connect, connection lost, server shutting down
    db.InterfaceError,  # a connection closed under us
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,  # the broker, when a job is sent
)
RETRY_AFTER_S = 15
MESSAGE = ("Framecraft is briefly unavailable while a service it needs restarts. Your videos "
           "and jobs are safe; try again in a few seconds.")


def is_service_down(error: BaseException | None) -> bool:
    """Whether this error, or one it was raised from, is a service going away."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, SERVICE_DOWN):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class ServiceDownMiddleware:
    """A view that meets a service going away answers 503, in development too (where Django
    would show its debug page instead of handler500)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, error: Exception) -> HttpResponse | None:
        return unavailable(request) if is_service_down(error) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500, for what fails outside a view (a session saved as the response leaves):
    Django calls it while the error is being handled, so sys.exc_info() is that error."""
    if not is_service_down(sys.exc_info()[1]):
        return defaults.server_error(request)
    return unavailable(request)


def unavailable(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "unavailable", "message": MESSAGE, "fields": {}},
                                status=503)
    else:
        # No request context: its processors would ask the database that is away.
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response
