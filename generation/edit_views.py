"""The edit studio: a source video of the user's (a gallery video or a video upload) shown as a
player, with a form per way to edit it. Jobs are submitted through the studio's `submit` view;
a stranger's video is a 404 here as everywhere."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from generation.edit_forms import EDIT_FORMS, VideoEditForm
from generation.models import Upload, UploadKind, Video
from generation.queries import recent_jobs
from webapp.http import SignedInRequest

# What a switch of task or model keeps of what was typed.
KEPT = ("preset", "prompt", "negative_prompt", "seed", "source_video", "source_upload",
        "trim_start", "trim_end", "mode", "grow", "feather", "anchor", "mask", "strength")


def edit_form_for(request: SignedInRequest, task: str | None, *args: Any, **kwargs: Any
                  ) -> VideoEditForm:
    return EDIT_FORMS.get(task or "", VideoEditForm)(*args, user=request.user, **kwargs)


@login_required
@require_safe
def edit_studio(request: SignedInRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    if video_id := request.GET.get("video"):
        video = get_object_or_404(Video, pk=video_id, owner=request.user)
        initial["source_video"] = video.id
        initial["prompt"] = video.prompt
    elif upload_id := request.GET.get("upload"):
        upload = get_object_or_404(Upload, pk=upload_id, owner=request.user,
                                   kind=UploadKind.VIDEO)
        initial["source_upload"] = upload.id
    form = edit_form_for(request, request.GET.get("task"), initial=initial)
    return render(request, "generation/edit.html", {"form": form,
                                                    "jobs": recent_jobs(request.user)})


@login_required
@require_safe
def edit_form(request: SignedInRequest) -> HttpResponse:
    """The form for another task or model, keeping what the user typed."""
    keep = {k: request.GET[k] for k in KEPT if request.GET.get(k)}
    return render(request, "generation/partials/edit_form.html",
                  {"form": edit_form_for(request, request.GET.get("task"), initial=keep)})
