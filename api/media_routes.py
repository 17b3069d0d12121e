"""Presets, uploads and videos."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django_ratelimit.core import is_ratelimited
from ninja import Router, Status

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, ApiError, not_found
from api.paging import page
from api.present import preset_out, upload_out, video_out
from api.schemas import PresetOut, Problem, SharingIn, TaskName, UploadOut, VideoOut, VideoPage
from generation import gallery
from generation.media import serve_media
from generation.models import Upload, Video
from generation.presets import CATALOGUE, presets_for
from generation.uploads import (
    RATE_LIMITED,
    SizeLimitHandler,
    UploadRefused,
    accept_upload,
    too_large_message,
)

router = Router()

_MULTIPART = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}}}}}}}
_RANGED = {"responses": {"200": {"description": "the file", "content": {}},
                         "206": {"description": "the requested byte range"}}}


@router.get("/presets", response={200: list[PresetOut], **ERRORS}, tags=["presets"],
            url_name="presets", summary="The installed models, their abilities and limits")
def list_presets(request: HttpRequest, task: TaskName | None = None) -> list[PresetOut]:
    presets = presets_for(task) if task else [p for p in CATALOGUE.values() if p.is_installed()]
    return [preset_out(preset) for preset in presets]


# --- Uploads ----------------------------------------------------------------------------------

def check_upload_rate(request: HttpRequest) -> None:
    """Uploads of every kind (files, LoRAs) count against FRAMECRAFT_UPLOAD_RATE."""
    if is_ratelimited(request, group="api-upload", key="user",
                      rate=settings.FRAMECRAFT_UPLOAD_RATE, increment=True):
        raise ApiError(429, "rate_limited", RATE_LIMITED, headers={"Retry-After": "60"})


def owned_upload(user: User, upload_id: uuid.UUID) -> Upload:
    upload = Upload.objects.filter(pk=upload_id, owner=user).first()
    if upload is None:
        raise not_found("upload")
    return upload


@router.post("/uploads", response={201: UploadOut, 413: Problem, **ERRORS},
             tags=["uploads"], url_name="uploads_create", openapi_extra=_MULTIPART,
             summary="Upload an image or a video (multipart field `file`)",
             description="Checked by content like the studio's uploads (PNG, JPEG, WebP; MP4, "
                         "MOV, WebM), within your storage quota. Use its id as a job input.")
def create_upload(request: HttpRequest) -> Status[UploadOut]:
    user = caller(request)
    # Before the body is parsed: stop reading a file at the size limit.
    request.upload_handlers.insert(0, SizeLimitHandler(request))
    check_upload_rate(request)
    file = request.FILES.get("file")
    if getattr(request, "upload_too_large", False):
        raise ApiError(413, "too_large", too_large_message(), {"file": too_large_message()})
    if file is None:
        raise ApiError(422, "invalid", "Send the file as the multipart field `file`.",
                       {"file": "Missing."})
    try:
        upload = accept_upload(user, file)
    except UploadRefused as refused:
        raise ApiError(422, "upload_refused", refused.message, {"file": refused.message}
                       ) from None
    finally:
        file.close()
    return Status(201, upload_out(upload))


@router.get("/uploads/{upload_id}", response={200: UploadOut, **ERRORS}, tags=["uploads"],
            url_name="upload_detail", summary="Get an upload")
def get_upload(request: HttpRequest, upload_id: uuid.UUID) -> UploadOut:
    return upload_out(owned_upload(caller(request), upload_id))


@router.delete("/uploads/{upload_id}", response={204: None, **ERRORS}, tags=["uploads"],
               url_name="upload_delete", summary="Delete an upload")
def delete_upload(request: HttpRequest, upload_id: uuid.UUID) -> Status[None]:
    owned_upload(caller(request), upload_id).delete()
    return Status(204, None)


# --- Videos -----------------------------------------------------------------------------------

def owned_video(user: User, video_id: uuid.UUID) -> Video:
    video = Video.objects.select_related("job").filter(pk=video_id, owner=user).first()
    if video is None:
        raise not_found("video")
    return video


@router.get("/videos", response={200: VideoPage, **ERRORS}, tags=["videos"],
            url_name="videos_list", summary="List your videos, newest first")
def list_videos(request: HttpRequest, cursor: str | None = None, limit: int = 20
                ) -> VideoPage:
    rows = Video.objects.owned_by(caller(request)).select_related("job")
    items, next_cursor = page(rows, cursor, limit)
    return VideoPage(items=[video_out(request, v) for v in items], next_cursor=next_cursor)


@router.get("/videos/{video_id}", response={200: VideoOut, **ERRORS}, tags=["videos"],
            url_name="video_detail", summary="Get a video: recipe, lineage, file URLs")
def get_video(request: HttpRequest, video_id: uuid.UUID) -> VideoOut:
    return video_out(request, owned_video(caller(request), video_id))


@router.delete("/videos/{video_id}", response={204: None, **ERRORS}, tags=["videos"],
               url_name="video_delete", summary="Delete a video and its files")
def delete_video(request: HttpRequest, video_id: uuid.UUID) -> Status[None]:
    owned_video(caller(request), video_id).delete()
    return Status(204, None)


@router.put("/videos/{video_id}/sharing", response={200: VideoOut, **ERRORS}, tags=["videos"],
            url_name="video_sharing", summary="Make a video private, unlisted or public")
def share_video(request: HttpRequest, video_id: uuid.UUID, body: SharingIn) -> VideoOut:
    video = owned_video(caller(request), video_id)
    gallery.share(video, body.visibility, body.expires)
    return video_out(request, video)


@router.get("/videos/{video_id}/file", tags=["videos"], url_name="video_file",
            openapi_extra=_RANGED, response=ERRORS,
            summary="The video's MP4 (byte ranges supported; HEAD too)")
def video_file(request: HttpRequest, video_id: uuid.UUID, download: bool = False
               ) -> HttpResponseBase:
    video = owned_video(caller(request), video_id)
    name = f"framecraft-{str(video.id)[:8]}.mp4" if download else None
    return serve_media(request, video.file, "video/mp4", name)


@router.get("/videos/{video_id}/poster", tags=["videos"], url_name="video_poster",
            openapi_extra=_RANGED, response=ERRORS, summary="The video's poster (JPEG)")
def video_poster(request: HttpRequest, video_id: uuid.UUID) -> HttpResponseBase:
    return serve_media(request, owned_video(caller(request), video_id).poster, "image/jpeg")


# HEAD gives players and download tools the length and ranges without the bytes (one
# operation id per path in the document, so HEAD stays out of it).
for _path, _view in (("/videos/{video_id}/file", video_file),
                     ("/videos/{video_id}/poster", video_poster)):
    router.add_api_operation(_path, ["HEAD"], _view, response=ERRORS, include_in_schema=False)
