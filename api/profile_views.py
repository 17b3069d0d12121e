"""The profile page's webhook section (session and CSRF, like every studio page)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.views import profile_page
from api.models import WebhookEndpoint
from api.schemas import WEBHOOK_EVENTS
from api.webhooks import WebhookRefused, create_endpoint
from webapp.http import SignedInRequest


def webhooks_context(user: User) -> dict[str, Any]:
    """The profile page's webhook section (added to it in ApiConfig.ready)."""
    return {"webhooks": WebhookEndpoint.objects.filter(owner=user),
            "webhook_events": WEBHOOK_EVENTS}


def _section(request: SignedInRequest, status: int = 200, **extra: Any) -> HttpResponse:
    if not request.htmx:
        return profile_page(request, status=status, **extra)
    return render(request, "accounts/partials/webhooks.html",
                  {**webhooks_context(request.user), **extra}, status=status)


@login_required
@require_POST
def create_webhook(request: SignedInRequest) -> HttpResponse:
    try:
        endpoint = create_endpoint(request.user, request.POST.get("url", ""),
                                   request.POST.getlist("events"))
    except WebhookRefused as refused:
        return _section(request, status=422, webhook_error=refused.message)
    return _section(request, new_webhook=endpoint)


@login_required
@require_POST
def delete_webhook(request: SignedInRequest, webhook_id: int) -> HttpResponse:
    get_object_or_404(WebhookEndpoint, pk=webhook_id, owner=request.user).delete()
    return _section(request)
