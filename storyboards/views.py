"""The storyboard pages: my storyboards, and one storyboard's shots, render and result.

Every mutation is a POST (CSRF-checked); an htmx request gets the board back to swap in, a
plain form post a redirect. Someone else's storyboard is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from storyboards import render as rendering
from storyboards.forms import ShotForm, StoryboardForm
from storyboards.models import MAX_SHOTS, Shot, Storyboard, swap
from webapp.http import SignedInRequest


def owned(request: SignedInRequest, storyboard_id: Any) -> Storyboard:
    return get_object_or_404(Storyboard, pk=storyboard_id, owner=request.user)


def owned_shot(board: Storyboard, shot_id: Any) -> Shot:
    return get_object_or_404(Shot, pk=shot_id, storyboard=board)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def storyboard_list(request: SignedInRequest) -> HttpResponseBase:
    form = StoryboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        board = form.save(commit=False)
        board.owner = request.user
        board.save()
        return redirect(board)
    boards = (Storyboard.objects.filter(owner=request.user).select_related("video")
              .prefetch_related("shots"))
    return render(request, "storyboards/list.html", {"boards": boards, "form": form},
                  status=422 if form.errors else 200)


@login_required
@require_safe
def storyboard_detail(request: SignedInRequest, storyboard_id: str) -> HttpResponse:
    return render(request, "storyboards/detail.html", board_context(request, owned(
        request, storyboard_id)))


def board_context(request: HttpRequest, board: Storyboard,
                  failed: ShotForm | None = None) -> dict[str, Any]:
    """The board's shots with their forms (a refused one with its messages), its status and
    its result."""
    shots = list(board.shots.select_related("job", "video", "start_image", "subject", "lora"))
    status = rendering.board_status(board, shots)
    entries = []
    for index, (shot, shot_status) in enumerate(zip(shots, status.shots, strict=True)):
        form = failed if failed is not None and not failed.is_new and \
            failed.instance.pk == shot.pk else ShotForm(
            instance=shot, owner=board.owner, first=index == 0)
        entries.append({"shot": shot, "status": shot_status, "form": form,
                        "first": index == 0, "last": index == len(shots) - 1,
                        "continues": rendering.continues(shot, index)})
    new_form = failed if failed is not None and failed.is_new else ShotForm(
        owner=board.owner, first=not shots)
    video = status.video
    share_url = (request.build_absolute_uri(reverse("shared_video", args=[video.share_slug]))
                 if video is not None and video.share_is_live else None)
    return {"board": board, "entries": entries, "status": status, "new_form": new_form,
            "title_form": StoryboardForm(instance=board), "video": video,
            "share_url": share_url, "max_shots": MAX_SHOTS,
            "can_add": len(shots) < MAX_SHOTS}


def _board(request: SignedInRequest, board: Storyboard, failed: ShotForm | None = None
           ) -> HttpResponseBase:
    if not request.htmx:
        return redirect(board)
    return render(request, "storyboards/partials/board.html",
                  board_context(request, board, failed), status=422 if failed else 200)


def _touch(board: Storyboard) -> None:
    board.updated_at = timezone.now()
    board.save(update_fields=["updated_at"])


@login_required
@require_POST
def rename(request: SignedInRequest, storyboard_id: str) -> HttpResponseBase:
    board = owned(request, storyboard_id)
    form = StoryboardForm(request.POST, instance=board)
    if form.is_valid():
        form.save()
        _touch(board)
    else:
        messages.error(request, " ".join(str(error) for error in form.errors.get("title", [])))
    return redirect(board) if not request.htmx else HttpResponseClientRedirect(
        board.get_absolute_url())


@login_required
@require_POST
def delete(request: SignedInRequest, storyboard_id: str) -> HttpResponseBase:
    """The storyboard goes; the videos its shots and its render made stay in the gallery."""
    board = owned(request, storyboard_id)
    rendering.discard(board)
    messages.success(request, f"Deleted the storyboard “{board.title}”; its videos are still "
                              "in your gallery.")
    url = reverse("storyboards")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def add_shot(request: SignedInRequest, storyboard_id: str) -> HttpResponseBase:
    board = owned(request, storyboard_id)
    with transaction.atomic():
        board = Storyboard.objects.select_for_update().get(pk=board.pk)
        count = board.shots.count()
        form = ShotForm(request.POST, owner=request.user, first=count == 0)
        if count >= MAX_SHOTS:
            form.add_error(None, f"A storyboard has at most {MAX_SHOTS} shots.")
        if form.errors or not form.is_valid():
            return _board(request, board, form)
        shot = form.save(commit=False)
        shot.storyboard = board
        shot.position = (board.shots.aggregate(last=Max("position"))["last"] or 0) + 1
        shot.save()
        _touch(board)
    return _board(request, board)


@login_required
@require_POST
def edit_shot(request: SignedInRequest, storyboard_id: str, shot_id: str) -> HttpResponseBase:
    board = owned(request, storyboard_id)
    shot = owned_shot(board, shot_id)
    first = not board.shots.filter(position__lt=shot.position).exists()
    form = ShotForm(request.POST, instance=shot, owner=request.user, first=first)
    if not form.is_valid():
        return _board(request, board, form)
    form.save()
    _touch(board)
    return _board(request, board)


@login_required
@require_POST
def delete_shot(request: SignedInRequest, storyboard_id: str, shot_id: str
                ) -> HttpResponseBase:
    board = owned(request, storyboard_id)
    owned_shot(board, shot_id).delete()
    _touch(board)
    return _board(request, board)


@login_required
@require_POST
def move_shot(request: SignedInRequest, storyboard_id: str, shot_id: str) -> HttpResponseBase:
    """Swap the shot with the one before (`direction=up`) or after it (`down`)."""
    board = owned(request, storyboard_id)
    with transaction.atomic():
        shots = list(Storyboard.objects.select_for_update().get(pk=board.pk).shots.all())
        index = next((i for i, shot in enumerate(shots) if str(shot.pk) == str(shot_id)), None)
        if index is None:
            return _board(request, owned_shot(board, shot_id).storyboard)
        other = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= other < len(shots):
            swap(shots, index, other)
            _touch(board)
    return _board(request, board)


@login_required
@require_POST
def render_board(request: SignedInRequest, storyboard_id: str) -> HttpResponseBase:
    board = owned(request, storyboard_id)
    try:
        rendering.render(board)
    except rendering.RenderRefused as refused:
        messages.error(request, str(refused))
    board.refresh_from_db()
    if not request.htmx:
        return redirect(board)
    return render(request, "storyboards/partials/render.html", board_context(request, board))


@login_required
@require_safe
def board_progress(request: SignedInRequest, storyboard_id: str) -> HttpResponse:
    """The render's part of the page, asked for every few seconds while something is made."""
    return render(request, "storyboards/partials/render.html",
                  board_context(request, owned(request, storyboard_id)))
