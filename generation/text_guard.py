"""Refuse URLs and query strings with text PostgreSQL cannot store, before any view runs.

Many views look things up by what the address says (`/u/<username>/`, `?q=`, `?preset=`);
a NUL there reaches the database as a DataError, a 500. Forms refuse NUL in their own fields
(Django's CharField does), and the views that read raw POST values check them where they read
them; form bodies are not read here, so upload views can still set their handlers first.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from generation.text import text_problem


def _query_problem(request: HttpRequest) -> tuple[str, str] | None:
    for name, values in request.GET.lists():
        for text in (name, *values):
            if problem := text_problem(text):
                return name if text_problem(name) is None else "query", problem
    return None


class StorableTextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if text_problem(request.path):
            raise Http404("No object has such a name.")  # nothing can be stored under it
        if found := _query_problem(request):
            field, problem = found
            if request.path.startswith("/api/"):
                from api.main import api

                return api.create_response(request, {
                    "code": "invalid", "message": f"The request is not valid: {field}: "
                    f"{problem}", "fields": {field: problem}}, status=422)
            return render(request, "400.html", {"problem": f"{field}: {problem}"}, status=400)
        return self.get_response(request)
