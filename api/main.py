"""The REST API under /api/v1/: django-ninja, authenticated by API key only."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from ninja import NinjaAPI

from api import (
    errors,
    events_route,
    jobs,
    lora_routes,
    media_routes,
    prompt_help_routes,
    queue_routes,
    storyboard_routes,
    subject_routes,
    webhook_routes,
)
from api.auth import ApiKeyAuth

DESCRIPTION = """\
Everything the studio does, for scripts and other apps. Authenticate with an API key from
your profile page: `Authorization: Bearer fc_…`. Errors are `{code, message, fields}`.
Objects of other people answer 404, like objects that do not exist.
"""

api = NinjaAPI(title="Framecraft API", version="1", description=DESCRIPTION,
               urls_namespace="api-1", auth=ApiKeyAuth(), docs_url=None)
errors.install(api)
api.add_router("", jobs.router)
api.add_router("", events_route.router)
api.add_router("", media_routes.router)
api.add_router("", subject_routes.router)
api.add_router("", lora_routes.router)
api.add_router("", webhook_routes.router)
api.add_router("", queue_routes.router)
api.add_router("", prompt_help_routes.router)
api.add_router("", storyboard_routes.router)


@require_safe
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI from the studio's own static files (no CDN, no inline script)."""
    return render(request, "api/docs.html", {"openapi_url": reverse("api-1:openapi-json")})
