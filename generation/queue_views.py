"""The studio's controls of a person's own queue: reorder (drag and drop, or the move
buttons), pause and resume. Each answers with the job list; a job that is not the person's
is a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from generation import queue
from generation.queries import recent_jobs
from webapp.http import SignedInRequest


def _list(request: SignedInRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("studio")
    return render(request, "generation/partials/job_list.html",
                  {"jobs": recent_jobs(request.user)})


@login_required
@require_POST
def reorder(request: SignedInRequest) -> HttpResponse:
    """The person's waiting jobs in the order the page shows them after a drag."""
    try:
        queue.reorder(request.user, request.POST.getlist("order"))
    except queue.NotYourJob:
        raise Http404("No such job.") from None
    return _list(request)


@login_required
@require_POST
def move(request: SignedInRequest, job_id: str) -> HttpResponse:
    where = request.POST.get("where", "")
    if where not in queue.MOVES:
        return HttpResponse(f"A job moves {', '.join(queue.MOVES)}.", status=422,
                            content_type="text/plain")
    try:
        queue.move(request.user, job_id, where)
    except queue.NotYourJob:
        raise Http404("No such waiting job.") from None
    return _list(request)


@login_required
@require_POST
def pause(request: SignedInRequest) -> HttpResponse:
    queue.pause(request.user)
    return _list(request)


@login_required
@require_POST
def resume(request: SignedInRequest) -> HttpResponse:
    queue.resume(request.user)
    return _list(request)
