"""Motion transfer's preview of the control track, and mask tracking from clicks. Every
object is looked up through its owner: a stranger gets 404."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from generation.control_previews import request_preview
from generation.media import serve_media
from generation.models import ControlPreview, MaskTracking, Upload, Video
from generation.presets import Task, get_preset, presets_for
from generation.transfer_forms import owned_source
from webapp.celery import app as celery_app
from webapp.http import SignedInRequest
from worker.catalogue.helpers import CONTROL_KINDS
from worker.editing.tracking import TrackingError, check_clicks

# Most frames a tracked mask may have: the longest clip any editing model takes.
MAX_MASK_FRAMES = 257


def _source(request: SignedInRequest, data: Any) -> Video | Upload:
    video_id, upload_id = data.get("source_video"), data.get("source_upload")
    source = owned_source(request.user, video_id, upload_id)
    if source is None:
        raise Http404("No such video.")
    return source


def _number(data: Any, name: str, kind: type, default: Any = None) -> Any:
    value = data.get(name)
    if value in (None, ""):
        if default is None:
            raise ValueError(f"Give {name.replace('_', ' ')}.")
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name.replace('_', ' ').capitalize()} must be a number.") from None


def _preview_card(request: HttpRequest, preview: ControlPreview | None, error: str = "",
                  status: int = 200) -> HttpResponse:
    return render(request, "generation/partials/control_preview.html",
                  {"preview": preview, "error": error,
                   "label": CONTROL_KINDS.get(preview.control, "") if preview else ""},
                  status=status)


@login_required
@require_POST
def control_preview(request: SignedInRequest) -> HttpResponse:
    """Ask for (or find) the preview of the form's source, control kind and clip."""
    source = _source(request, request.POST)
    control = request.POST.get("control", "")
    if control not in CONTROL_KINDS:
        return _preview_card(request, None, f"Choose a control track among: "
                             f"{', '.join(CONTROL_KINDS.values())}.", status=422)
    presets = {p.id: p for p in presets_for(Task.CONTROL)}
    preset = presets.get(request.POST.get("preset", ""))
    if preset is None:
        return _preview_card(request, None, "Choose an installed model first.", status=422)
    try:
        start_s = _number(request.POST, "start_s", float, 0.0)
        num_frames = _number(request.POST, "num_frames", int, preset.default_frames)
    except ValueError as problem:
        return _preview_card(request, None, str(problem), status=422)
    if start_s < 0 or not preset.validate_frames(num_frames):
        return _preview_card(request, None, "Choose a start of 0 s or more and one of the "
                             "model's lengths.", status=422)
    preview = request_preview(request.user, source, control=control, start_s=start_s,
                              num_frames=num_frames, fps=preset.fps)
    return _preview_card(request, preview)


def _owned_preview(request: HttpRequest, preview_id: str) -> ControlPreview:
    return get_object_or_404(ControlPreview, pk=preview_id, owner=request.user)


@login_required
@require_safe
def control_preview_card(request: SignedInRequest, preview_id: str) -> HttpResponse:
    return _preview_card(request, _owned_preview(request, preview_id))


@login_required
@require_safe
def control_preview_file(request: SignedInRequest, preview_id: str) -> HttpResponseBase:
    return serve_media(request, _owned_preview(request, preview_id).file, "video/mp4")


def _tracking_state(tracking: MaskTracking) -> dict[str, Any]:
    state: dict[str, Any] = {
        "id": str(tracking.id), "status": tracking.status, "message": tracking.message,
        "status_url": reverse("mask_tracking", args=[tracking.id]), "mask_upload": None}
    if tracking.mask_id is not None:
        state["mask_upload"] = str(tracking.mask_id)
        state["mask_url"] = reverse("upload_file", args=[tracking.mask_id])
    return state


@login_required
@require_POST
def track_mask(request: SignedInRequest) -> JsonResponse:
    """Start tracking a mask: the source (source_video or source_upload), `clicks` as JSON
    [[frame, x, y, positive], ...] in the source's pixels on the clip's frames, the clip
    (start_s, num_frames) at `fps` (or the frame rate of `preset`). 202 with where to poll."""
    source = _source(request, request.POST)
    try:
        preset_id = request.POST.get("preset")
        fps = get_preset(preset_id).fps if preset_id else _number(request.POST, "fps", int)
        start_s = _number(request.POST, "start_s", float, 0.0)
        num_frames = _number(request.POST, "num_frames", int)
        if fps < 1 or start_s < 0 or not 1 <= num_frames <= MAX_MASK_FRAMES:
            raise ValueError(f"Give a frame rate of 1 or more, a start of 0 s or more and 1 to "
                             f"{MAX_MASK_FRAMES} frames.")
        duration = source.duration_s if isinstance(source, Video) else (
            source.frame_count / source.fps if source.fps else 0.0)
        if start_s + (num_frames - 1) / fps > duration + 1e-6:
            raise ValueError(f"The clip reaches past the video's end at {duration:.2f} s.")
        clicks = json.loads(request.POST.get("clicks") or "[]")
        if not isinstance(clicks, list):
            raise ValueError("Clicks are a list of [frame, x, y, positive].")
        checked = check_clicks(clicks, num_frames, source.height, source.width)
    except KeyError:
        return JsonResponse({"error": "There is no such model."}, status=422)
    except (ValueError, TrackingError) as problem:  # json's errors are ValueErrors too
        message = str(problem) if not isinstance(problem, json.JSONDecodeError) else \
            "Clicks are a list of [frame, x, y, positive]."
        return JsonResponse({"error": message}, status=422)
    tracking = MaskTracking.objects.create(
        owner=request.user, clicks=[list(click) for click in checked], start_s=start_s,
        num_frames=num_frames, fps=fps,
        video=source if isinstance(source, Video) else None,
        upload=source if isinstance(source, Upload) else None)
    tracking_id = str(tracking.id)
    transaction.on_commit(lambda: celery_app.send_task("framecraft.track_mask",
                                                       args=[tracking_id]))
    return JsonResponse(_tracking_state(tracking), status=202)


@login_required
@require_safe
def mask_tracking(request: SignedInRequest, tracking_id: str) -> JsonResponse:
    tracking = get_object_or_404(MaskTracking, pk=tracking_id, owner=request.user)
    return JsonResponse(_tracking_state(tracking))

