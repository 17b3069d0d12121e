"""Gallery, video pages and sharing. Private things are looked up through their owner (a
stranger gets 404); shared things only through a live share link or a public flag."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import urlencode

import av.error
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User
from generation import gallery, lifecycle
from generation.availability import installed_presets, video_actions
from generation.inputs import frame_upload
from generation.media import serve_media
from generation.models import (
    TASK_CHOICES,
    InputRole,
    Job,
    JobInput,
    JobOrigin,
    Video,
    Visibility,
)
from generation.presets import preset_label
from generation.sound import has_sound
from generation.specs import AddSound, InputRef, SpecError, UpscaleVideo
from generation.submission import draw_seed
from generation.uploads import UploadRefused, storage_use
from generation.views import owned_video
from webapp.http import HtmxRequest, SignedInRequest
from worker.catalogue.soundtrack import soundtrack_model
from worker.catalogue.speed import SpeedMode

EXPLORE_PAGE_SIZE = 24


def _download_name(video: Video) -> str:
    return f"framecraft-{str(video.id)[:8]}.mp4"


@login_required
@require_safe
def gallery_page(request: SignedInRequest) -> HttpResponse:
    filters = gallery.GalleryFilters.from_query(request.GET)
    videos, next_cursor = gallery.page(
        filters.apply(Video.objects.owned_by(request.user)), request.GET.get("after"),
        sort=filters.sort)
    context: dict[str, object] = {"videos": videos, "next_cursor": next_cursor,
               "filters": filters,
               "query": request.GET.copy()}
    if request.htmx and request.GET.get("after"):
        return render(request, "gallery/partials/tiles.html", context)
    if request.htmx and request.htmx.target == "gallery-results":
        return render(request, "gallery/partials/results.html", context)
    presets = gallery.presets_used(request.user)
    context.update(kinds=TASK_CHOICES,
                   presets=[(p, preset_label(p)) for p in presets if p],
                   periods=[("day", "Last 24 hours"), ("week", "Last 7 days"),
                            ("month", "Last 31 days"), ("year", "Last year")],
                   sorts=gallery.SORT_LABELS.items(), **storage_use(request.user))
    return render(request, "gallery/gallery.html", context)


@login_required
@require_safe
def video_detail(request: SignedInRequest, video_id: str) -> HttpResponse:
    video = get_object_or_404(Video.objects.select_related("job__retry_of"),
                              pk=video_id, owner=request.user)
    return render(request, "gallery/detail.html", {
        "video": video, "lineage": _lineage(video), "share_url": _share_url(request, video),
        "actions": video_actions(), "sound_model": soundtrack_model()})


def _lineage(video: Video) -> dict[str, object]:
    """Where the video came from (the job's inputs, read from its JobInput rows) and what was
    made from it, in a fixed number of queries."""
    job = video.job
    inputs = list(JobInput.objects.filter(job=job).select_related("video", "upload")
                  .order_by("role", "position")) if job is not None else []
    remix = next((row for row in inputs if row.role == InputRole.REMIX_OF), None)
    uses = (JobInput.objects.filter(video=video).select_related("job__video")
            .defer("job__preview_jpeg").order_by("-job__created_at")[:20])
    derived: list[dict[str, object]] = []
    for row in uses:  # a job that used the video twice (remixed and edited) is listed once
        if all(use["job"] != row.job for use in derived):
            derived.append({"job": row.job, "made": _made_from(row)})
    edited_from = next((row for row in inputs if row.role == InputRole.SOURCE_VIDEO), None)
    return {"source": remix.video if remix else None, "origin": job.origin if job else "",
            "edited_from": edited_from,
            # LoRAs are named in the recipe, as they were when the job ran.
            "inputs": [row for row in inputs if row.role not in (
                InputRole.REMIX_OF, InputRole.KEYFRAME, InputRole.LORA)],
            "keyframes": _keyframes(job, inputs, video.fps) if job is not None else [],
            "retried_from": job.retry_of if job is not None and job.retry_of_id else None,
            "derived": derived}


# How a job used this video, read after "this video was …": by the input's role and the task.
_MADE_BY_TASK = {"v2v": "Restyled into", "extend": "Extended into",
                 "control": "Its motion given to", "upscale": "Upscaled into",
                 "soundtrack": "Given sound in"}


def _made_from(row: JobInput) -> str:
    job = row.job
    if row.role == InputRole.REMIX_OF:
        return "Retried as" if job.origin == JobOrigin.RETRY else "Remixed into"
    if row.role == InputRole.SOURCE_VIDEO:
        if job.kind in _MADE_BY_TASK:
            return _MADE_BY_TASK[job.kind]
        return "Reframed into" if job.params.get("mode") == "reframe" else "Edited into"
    return f"Used as the {row.get_role_display().lower()} of"


def _keyframes(job: Job, rows: list[JobInput], fps: float) -> list[dict[str, Any]]:
    """The job's keyframe rows with where each sat (from its params, by rank), by time."""
    places = job.params.get("keyframes") or []
    keyframes = []
    for row in rows:
        if row.role == InputRole.KEYFRAME and row.position < len(places):
            frame, strength = places[row.position]
            keyframes.append({"input": row, "frame": int(frame), "strength": strength,
                              "seconds": frame / fps if fps else None})
    return sorted(keyframes, key=lambda keyframe: int(keyframe["frame"]))


@login_required
@require_POST
def continue_from_last_frame(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    """The last frame of the user's own video becomes an upload, and the studio's image form
    opens with it as the start image (and the video's prompt)."""
    return _animate(request, owned_video(request, video_id), None)


@login_required
@require_POST
def animate_frame(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    """Any frame of the user's own video (picked with the page's scrubber) becomes an upload,
    and the studio's image form opens with it as the start image."""
    video = owned_video(request, video_id)
    try:
        index = int(request.POST.get("frame", ""))
    except ValueError:
        index = -1
    if not 0 <= index < video.frame_count:
        messages.error(request, f"Pick a frame from 0 to {video.frame_count - 1}.")
        return _back_to(request, video)
    return _animate(request, video, index)


def _back_to(request: SignedInRequest, video: Video) -> HttpResponseBase:
    if request.htmx:
        return HttpResponseClientRedirect(reverse("video_detail", args=[video.id]))
    return redirect("video_detail", video.id)


def _animate(request: SignedInRequest, video: Video, index: int | None) -> HttpResponseBase:
    """Frame `index` of the video (its last when None) as the user's upload, and the studio's
    image form opened with it and the video's prompt."""
    which = "last frame" if index is None else f"frame {index}"
    try:
        upload = frame_upload(request.user, video, index)
    except (av.error.FFmpegError, LookupError, OSError):
        messages.error(request, f"The video's {which} could not be read.")
        return _back_to(request, video)
    except UploadRefused as refused:
        messages.error(request, refused.message)
        return _back_to(request, video)
    params = {"task": "i2v", "start_image": str(upload.id), "prompt": video.prompt}
    # Continuing with the model that made the video keeps its look, where it animates images.
    if video.recipe.get("preset") in {p.id for p in installed_presets("i2v")}:
        params["preset"] = video.recipe["preset"]
    query = urlencode(params)
    url = f"{reverse('studio')}?{query}"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
@require_POST
def render_in_quality(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    """A Preview or Balanced video made again at Quality: the same recipe and seed, remixed
    from this video (its lineage)."""
    video = owned_video(request, video_id)
    job = video.job
    if job is None:
        messages.error(request, "This video's job is gone, and its inputs with it.")
        return redirect("video_detail", video.id)
    if job.params.get("speed", SpeedMode.QUALITY) == SpeedMode.QUALITY:
        messages.info(request, "This video is already at Quality.")
        return redirect("video_detail", video.id)
    spec = dataclasses.replace(lifecycle.spec_of(job), speed=SpeedMode.QUALITY.value)
    try:
        lifecycle.submit(request.user, spec, remix_of=video)
    except (lifecycle.JobLimitReached, SpecError) as refused:
        messages.error(request, str(refused))
        return redirect("video_detail", video.id)
    messages.success(request, "Rendering it again at Quality, with the same seed.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("studio"))
    return redirect("studio")


@login_required
@require_POST
def upscale_video(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    """The user's video at 2 or 4 times its size (the page's buttons send `factor`), a new video
    in its lineage made by the installed upscaler, its sound kept."""
    video = owned_video(request, video_id)
    factor = request.POST.get("factor", "")
    spec = UpscaleVideo.for_source(InputRef(role=InputRole.SOURCE_VIDEO, video_id=video.id),
                                   int(factor) if factor.isdigit() else factor)
    try:
        lifecycle.submit(request.user, spec)
    except (lifecycle.JobLimitReached, SpecError) as refused:
        messages.error(request, str(refused))
        return _back_to(request, video)
    messages.success(request, f"Upscaling it {factor}× to {spec.width} × {spec.height}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("studio"))
    return redirect("studio")


@login_required
@require_POST
def add_sound(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    """The user's video with a sound made from their prompt (the page's Add sound form), a new
    video in its lineage; where it has sound, the new one goes under it or replaces it."""
    video = owned_video(request, video_id)
    given = request.POST.get("volume", "50").strip()
    try:
        volume: object = float(given) / 100
    except ValueError:
        volume = given  # the spec says what a volume is
    mix = request.POST.get("mix", "under") if has_sound(video) else "replace"
    spec = AddSound.for_source(InputRef(role=InputRole.SOURCE_VIDEO, video_id=video.id),
                               request.POST.get("prompt", ""), seed=draw_seed(), mix=mix,
                               volume=volume)
    try:
        lifecycle.submit(request.user, spec)
    except (lifecycle.JobLimitReached, SpecError) as refused:
        messages.error(request, str(refused))
        return _back_to(request, video)
    messages.success(request, "Adding sound to it: the new video will be in your gallery.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("studio"))
    return redirect("studio")


def _share_url(request: HttpRequest, video: Video) -> str | None:
    if not video.share_is_live:
        return None
    return request.build_absolute_uri(reverse("shared_video", args=[video.share_slug]))


@login_required
@require_POST
def toggle_favourite(request: SignedInRequest, video_id: str) -> HttpResponse:
    video = owned_video(request, video_id)
    gallery.toggle_favourite(video)
    if not request.htmx:
        return redirect("video_detail", video.id)
    return render(request, "gallery/partials/favourite_button.html", {"video": video})


@login_required
@require_POST
def delete_video(request: SignedInRequest, video_id: str) -> HttpResponse:
    video = owned_video(request, video_id)
    video.delete()
    if request.htmx and request.POST.get("from") == "grid":
        return HttpResponse("")  # the tile swaps itself away
    messages.success(request, "Video deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("gallery"))
    return redirect("gallery")


@login_required
@require_POST
def delete_videos(request: SignedInRequest) -> HttpResponse:
    """The gallery's "Delete selected": the user's own videos among the ids posted; anyone
    else's (or ids that name nothing) are passed over without a word about them."""
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    chosen = list(Video.objects.owned_by(request.user).filter(pk__in=ids)
                  .values_list("pk", flat=True))
    Video.objects.filter(pk__in=chosen).delete()  # each row's files go after the commit
    if chosen:
        messages.success(request, f"Deleted {len(chosen)} video{pluralize(len(chosen))}.")
    else:
        messages.info(request, "No videos were deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("gallery"))
    return redirect("gallery")


@login_required
@require_POST
def share_video(request: SignedInRequest, video_id: str) -> HttpResponse:
    video = owned_video(request, video_id)
    error = saved = None
    revoking = request.POST.get("action") == "revoke"
    try:
        if revoking:
            gallery.revoke_link(video)
        else:
            gallery.share(video, request.POST.get("visibility", ""),
                          request.POST.get("expires", ""))
    except ValueError as problem:
        error = str(problem)
    else:
        saved = _sharing_saved(video, revoking)
    if not request.htmx:
        if saved is None:
            messages.error(request, error or "")
        else:
            messages.success(request, saved)
        return redirect("video_detail", video.id)
    return render(request, "gallery/partials/share_panel.html", {
        "video": video, "share_url": _share_url(request, video), "error": error,
        "saved": saved}, status=422 if error else 200)


def _sharing_saved(video: Video, revoked: bool) -> str:
    """The confirmation after saving: who can watch now, and until when."""
    if revoked:
        return "Link revoked: it no longer works, and the video is private."
    if video.visibility == Visibility.PRIVATE:
        return "Saved: only you can watch this video."
    until = (f" until {localtime(video.share_expires_at):%-d %b %Y, %H:%M}"
             if video.share_expires_at else " until you revoke the link")
    if video.visibility == Visibility.UNLISTED:
        return f"Saved: anyone with the link can watch it{until}."
    return f"Saved: it is public, on your profile and in Explore{until}."


@login_required
@require_safe
def video_download(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    video = owned_video(request, video_id)
    return serve_media(request, video.file, "video/mp4", _download_name(video))


# --- Shared and public pages: no sign-in ------------------------------------------------------

def _shared(slug: str) -> Video:
    video = Video.objects.shared(slug).select_related("owner").first()
    if video is None:
        raise Http404("This link does not exist, was revoked, or has expired.")
    return video


@require_safe
def shared_video(request: HttpRequest, slug: str) -> HttpResponse:
    video = _shared(slug)
    visitor = gallery.visitor_id(request)
    if request.method == "GET":  # a link preview's HEAD is not a view
        gallery.record_view(video, request, visitor)
    response = render(request, "gallery/shared.html", {
        "video": video,
        "page_url": request.build_absolute_uri(),
        "poster_url": request.build_absolute_uri(reverse("shared_poster", args=[slug])),
        "file_url": request.build_absolute_uri(reverse("shared_file", args=[slug])),
    })
    response.set_cookie(gallery.VISITOR_COOKIE, visitor, max_age=365 * 24 * 3600,
                        httponly=True, samesite="Lax", secure=request.is_secure())
    return response


@require_safe
def shared_file(request: HttpRequest, slug: str) -> HttpResponseBase:
    return serve_media(request, _shared(slug).file, "video/mp4")


@require_safe
def shared_poster(request: HttpRequest, slug: str) -> HttpResponseBase:
    return serve_media(request, _shared(slug).poster, "image/jpeg")


@require_safe
def public_profile(request: HtmxRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    videos, next_cursor = gallery.page(Video.objects.public().filter(owner=person),
                                       request.GET.get("after"))
    template = "gallery/partials/public_tiles.html" if request.htmx else "gallery/profile.html"
    return render(request, template, {"person": person, "videos": videos,
                                      "next_cursor": next_cursor})


@require_safe
def explore(request: HtmxRequest) -> HttpResponse:
    videos, next_cursor = gallery.page(Video.objects.public().select_related("owner"),
                                       request.GET.get("after"), EXPLORE_PAGE_SIZE)
    template = "gallery/partials/public_tiles.html" if request.htmx else "gallery/explore.html"
    return render(request, template, {"videos": videos, "next_cursor": next_cursor})

