"""Improve prompt in the studio and the edit studio: one address. POST (the form's prompt,
model and task) asks the models worker for a suggestion and answers the card that polls for
it; GET ?id= is that poll, the owner's only (a stranger gets 404). The API's twin is
api/prompt_help_routes.py."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from generation import prompt_help
from webapp.http import SignedInRequest

CARD = "generation/partials/prompt_suggestion.html"


def _card(request: SignedInRequest, help: prompt_help.PromptHelp | None = None,
          error: str = "", status: int = 200) -> HttpResponse:
    return render(request, CARD, {"help": help, "error": error}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def improve_prompt(request: SignedInRequest) -> HttpResponse:
    if request.method != "POST":
        found = prompt_help.find(request.user, request.GET.get("id", ""))
        if found is None:
            raise Http404("No such suggestion.")
        return _card(request, found)
    try:
        preset = prompt_help.installed_preset(request.POST.get("preset"))
        if is_ratelimited(request, group=prompt_help.RATE_GROUP, key="user",
                          rate=prompt_help.RATE, method="POST", increment=True):
            return _card(request, error="You are asking very fast; wait a minute and try "
                                        "again.", status=422)
        asked = prompt_help.ask(request.user, request.POST.get("prompt"), preset,
                                task=request.POST.get("task"))
    except prompt_help.PromptHelpRefused as refused:
        return _card(request, error=refused.message, status=422)
    return _card(request, asked, status=202)
