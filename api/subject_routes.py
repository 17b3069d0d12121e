"""Subjects: list, create from uploads (or a frame of a video), change, delete; each photo's
version; grants. Through the studio's own form and services, so the limits and messages are
the studio's. A subject is its owner's: anyone else gets 404 (a grantee may use it in jobs,
and sees it in the list, but cannot read or change it)."""

from __future__ import annotations

import uuid

from django.core.files.uploadedfile import UploadedFile
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from ninja import Router, Status

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, ApiError, form_refused, not_found
from api.media_routes import check_upload_rate
from api.present import photo_out, shared_subject_out, subject_out
from api.schemas import (
    GrantIn,
    GrantOut,
    GrantRevoked,
    PhotoVersionIn,
    SubjectChange,
    SubjectIn,
    SubjectList,
    SubjectOut,
    SubjectPhotoOut,
)
from generation import subjects
from generation.models import Subject, SubjectGrant, SubjectPhoto
from generation.subject_forms import SubjectForm, accept_photos
from generation.subjects import SubjectRefused, with_photos
from generation.uploads import SizeLimitHandler, too_large_message

router = Router(tags=["subjects"])
_PHOTO_FILES = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {
        "type": "array", "items": {"type": "string", "format": "binary"},
        "description": "PNG, JPEG or WebP; one part per photo"}}}}}}}

# The studio form's field names, as the API's bodies name them.
FORM_FIELDS = {"photo_files": "photos", "at_seconds": "from_video.at_seconds",
               "from_video": "from_video.video_id"}


def _own(user: User) -> QuerySet[Subject]:
    """The user's subjects with what subject_out reads: photos, grants and their users."""
    return with_photos(Subject.objects.filter(owner=user)).prefetch_related(Prefetch(
        "grants", queryset=SubjectGrant.objects.select_related("user")))


def owned_subject(user: User, subject_id: uuid.UUID) -> Subject:
    subject = _own(user).filter(pk=subject_id).first()
    if subject is None:
        raise not_found("subject")
    return subject


def _photo(subject: Subject, photo_id: int) -> SubjectPhoto:
    photo = next((p for p in subject.photos.all() if p.pk == photo_id), None)
    if photo is None:
        raise not_found("photo")
    return photo


def _saved(user: User, body: SubjectIn | SubjectChange, subject: Subject | None = None,
           files: list[UploadedFile] | None = None) -> Subject:
    """The body through the studio's SubjectForm: the same checks (name, 1 to 5 photos, the
    uploads being the caller's images, files checked by content, the video's frame, the
    quota) and the same save."""
    data = QueryDict(mutable=True)
    data["name"] = body.name if body.name is not None else getattr(subject, "name", "")
    data["kind"] = body.kind if body.kind is not None else getattr(subject, "kind", "")
    data.setlist("photo", [str(upload_id) for upload_id in body.photos])
    if body.from_video is not None:
        data["from_video"] = str(body.from_video.video_id)
        data["at_seconds"] = repr(body.from_video.at_seconds)
    form = SubjectForm(data, MultiValueDict({"photo_files": files or []}), owner=user,
                       subject=subject)
    if not form.is_valid() or not accept_photos(form):
        raise form_refused(form, "invalid_subject", FORM_FIELDS)
    return owned_subject(user, form.save().id)


@router.get("/subjects", response={200: SubjectList, **ERRORS}, url_name="subjects_list",
            summary="Your subjects, and those others let you use")
def list_subjects(request: HttpRequest) -> SubjectList:
    user = caller(request)
    own = _own(user)
    shared = Subject.objects.filter(grants__user=user).select_related("owner")
    return SubjectList(own=[subject_out(s) for s in own],
                       shared_with_you=[shared_subject_out(s) for s in shared])


@router.post("/subjects", response={201: SubjectOut, **ERRORS}, url_name="subjects_create",
             summary="Make a subject from 1 to 5 photos",
             description="Photos are your image uploads (POST /uploads) and/or a frame of one "
                         "of your videos. Each photo's background is then removed on the "
                         "models worker (`cutout_status`), where that is installed.")
def create_subject(request: HttpRequest, body: SubjectIn) -> Status[SubjectOut]:
    return Status(201, subject_out(_saved(caller(request), body)))


@router.get("/subjects/{subject_id}", response={200: SubjectOut, **ERRORS},
            url_name="subject_detail", summary="Get a subject of yours: photos and grants")
def get_subject(request: HttpRequest, subject_id: uuid.UUID) -> SubjectOut:
    return subject_out(owned_subject(caller(request), subject_id))


@router.patch("/subjects/{subject_id}", response={200: SubjectOut, **ERRORS},
              url_name="subject_change", summary="Rename a subject, change its kind, add photos")
def change_subject(request: HttpRequest, subject_id: uuid.UUID, body: SubjectChange
                   ) -> SubjectOut:
    user = caller(request)
    return subject_out(_saved(user, body, owned_subject(user, subject_id)))


@router.post("/subjects/{subject_id}/photos", response={201: SubjectOut, **ERRORS},
             url_name="subject_photos_add", openapi_extra=_PHOTO_FILES,
             summary="Add photos to a subject as files (multipart field `file`, repeatable)",
             description="Each file is checked by content like POST /uploads and becomes one of "
                         "your uploads; none is kept when the subject refuses them (more than 5 "
                         "photos in all, a video).")
def add_photo_files(request: HttpRequest, subject_id: uuid.UUID) -> Status[SubjectOut]:
    user = caller(request)
    subject = owned_subject(user, subject_id)
    # Before the body is parsed: stop reading a file at the size limit.
    request.upload_handlers.insert(0, SizeLimitHandler(request))
    check_upload_rate(request)
    files = request.FILES.getlist("file")
    if getattr(request, "upload_too_large", False):
        raise ApiError(413, "too_large", too_large_message(), {"file": too_large_message()})
    if not files:
        raise ApiError(422, "invalid", "Send the photos as the multipart field `file`.",
                       {"file": "Missing."})
    try:
        return Status(201, subject_out(_saved(user, SubjectChange(), subject, files)))
    finally:
        for file in files:
            file.close()


@router.delete("/subjects/{subject_id}", response={204: None, **ERRORS},
               url_name="subject_delete", summary="Delete a subject",
               description="Waiting jobs that use it fail; videos made with it stay.")
def delete_subject(request: HttpRequest, subject_id: uuid.UUID) -> Status[None]:
    subjects.delete_subject(owned_subject(caller(request), subject_id))
    return Status(204, None)


@router.put("/subjects/{subject_id}/photos/{photo_id}", response={200: SubjectPhotoOut, **ERRORS},
            url_name="subject_photo_version",
            summary="Choose which version of a photo jobs use")
def choose_version(request: HttpRequest, subject_id: uuid.UUID, photo_id: int,
                   body: PhotoVersionIn) -> SubjectPhotoOut:
    subject = owned_subject(caller(request), subject_id)
    try:
        subjects.choose_version(_photo(subject, photo_id), body.version == "cutout")
    except SubjectRefused as refused:
        raise ApiError(409, "no_cutout", refused.message, {refused.field: refused.message}
                       ) from None
    return photo_out(_photo(owned_subject(subject.owner, subject.id), photo_id))


@router.delete("/subjects/{subject_id}/photos/{photo_id}", response={204: None, **ERRORS},
               url_name="subject_photo_delete", summary="Remove a photo from a subject",
               description="A subject keeps one photo at least (409 `last_photo`).")
def delete_photo(request: HttpRequest, subject_id: uuid.UUID, photo_id: int) -> Status[None]:
    subject = owned_subject(caller(request), subject_id)
    try:
        subjects.remove_photo(subject, _photo(subject, photo_id))
    except SubjectRefused as refused:
        raise ApiError(409, "last_photo", refused.message) from None
    return Status(204, None)


@router.post("/subjects/{subject_id}/grants", response={201: GrantOut, **ERRORS},
             url_name="subject_grant", summary="Let someone use a subject in their videos",
             description="They may then pick it or write `@name` in their jobs; they cannot "
                         "see its photos or change it.")
def grant_subject(request: HttpRequest, subject_id: uuid.UUID, body: GrantIn
                  ) -> Status[GrantOut]:
    user = caller(request)
    subject = owned_subject(user, subject_id)
    try:
        grant = subjects.grant_use(subject, body.username, user)
    except SubjectRefused as refused:
        raise ApiError(422, "grant_refused", refused.message, {refused.field: refused.message}
                       ) from None
    return Status(201, GrantOut(id=grant.pk, username=grant.user.username,
                                created_at=grant.created_at))


@router.delete("/subjects/{subject_id}/grants/{grant_id}", response={200: GrantRevoked, **ERRORS},
               url_name="subject_revoke", summary="Take back someone's use of a subject",
               description="Their waiting jobs that use it fail with a message; their videos "
                           "stay.")
def revoke_grant(request: HttpRequest, subject_id: uuid.UUID, grant_id: int) -> GrantRevoked:
    user = caller(request)
    subject = owned_subject(user, subject_id)
    grant = SubjectGrant.objects.select_related("subject").filter(pk=grant_id,
                                                                  subject=subject).first()
    if grant is None:
        raise not_found("grant")
    return GrantRevoked(failed_jobs=subjects.revoke_use(grant, user))
