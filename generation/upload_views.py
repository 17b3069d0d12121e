"""My uploads: accept a file, list, serve and delete a user's uploads. Owner only: a stranger
gets 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_ratelimit.decorators import ratelimit

from generation.media import serve_media
from generation.models import Upload, UploadKind
from generation.uploads import (
    RATE_LIMITED,
    SizeLimitHandler,
    UploadRefused,
    accept_upload,
    storage_use,
    too_large_message,
)
from webapp.http import SignedInRequest


def owned_upload(request: HttpRequest, upload_id: str) -> Upload:
    return get_object_or_404(Upload, pk=upload_id, owner=request.user)


def _page(request: SignedInRequest, status: int = 200, error: str = "") -> HttpResponse:
    return render(request, "uploads/uploads.html", {
        "uploads": Upload.objects.filter(owner=request.user).exclude(kind=UploadKind.LORA),
        **storage_use(request.user), "error": error,
        "max_upload_mb": settings.FRAMECRAFT_MAX_UPLOAD_MB,
    }, status=status)


@csrf_exempt  # checked just below, once the size-limiting handler is in place
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def uploads(request: SignedInRequest) -> HttpResponseBase:
    if request.method == "POST":
        # Before the body is read (CSRF reads it): stop a file at the size limit.
        request.upload_handlers.insert(0, SizeLimitHandler(request))
        return _create(request)
    return _page(request)


@csrf_protect
@ratelimit(key="user", rate=lambda group, request: settings.FRAMECRAFT_UPLOAD_RATE,
           method="POST", block=False)
def _create(request: SignedInRequest) -> HttpResponse:
    file = request.FILES.get("file")
    error = ""
    if getattr(request, "limited", False):
        error = RATE_LIMITED
    elif getattr(request, "upload_too_large", False):
        error = too_large_message()
    elif file is None:
        error = "Choose a file to upload."
    else:
        try:
            upload = accept_upload(request.user, file)
        except UploadRefused as refusal:
            error = refusal.message
        finally:
            file.close()
    if error:
        if request.htmx:
            return render(request, "uploads/partials/refused.html", {"error": error},
                          status=422)
        return _page(request, status=422, error=error)
    if request.htmx:
        return render(request, "uploads/partials/upload_card.html",
                      {"upload": upload, "fresh": True})
    messages.success(request, f"Uploaded {upload}.")
    return redirect("uploads")


@login_required
@require_safe
def upload_file(request: SignedInRequest, upload_id: str) -> HttpResponseBase:
    upload = owned_upload(request, upload_id)
    content_type = "image/png" if upload.kind == UploadKind.IMAGE else (
        "video/webm" if upload.metadata.get("container") == "webm" else "video/mp4")
    return serve_media(request, upload.file, content_type)


@login_required
@require_safe
def upload_thumb(request: SignedInRequest, upload_id: str) -> HttpResponseBase:
    return serve_media(request, owned_upload(request, upload_id).thumb, "image/jpeg")


@login_required
@require_POST
def delete_upload(request: SignedInRequest, upload_id: str) -> HttpResponse:
    upload = owned_upload(request, upload_id)
    upload.delete()
    if request.htmx:
        return HttpResponse("")  # the card swaps itself away
    messages.success(request, f"Deleted {upload}.")
    return redirect("uploads")
