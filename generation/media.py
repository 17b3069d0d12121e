"""Serving private media from permission-checked views.

Local disk: streamed by Django with byte ranges (so players can seek), or handed to the
proxy with X-Accel-Redirect when FRAMECRAFT_MEDIA_ACCEL_PREFIX names an internal location.
Object storage: a redirect to a short-lived signed URL. Callers check permission first.
HEAD gets the same status and headers as GET (length, ranges) without opening the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def _is_local(field_file: FieldFile) -> bool:
    try:
        field_file.path  # noqa: B018 - only local storages have paths
    except NotImplementedError:
        return False
    return True


def serve_media(request: HttpRequest, field_file: FieldFile, content_type: str,
                download_name: str | None = None) -> HttpResponseBase:
    if not field_file:
        raise Http404("No such file.")
    name = field_file.name or ""
    disposition = content_disposition_header(download_name is not None, download_name or "")
    if not _is_local(field_file):
        parameters = {"ResponseContentDisposition": disposition} if download_name else None
        # S3 storage's url() takes the response headers to sign in.
        return HttpResponseRedirect(field_file.storage.url(  # type: ignore[call-arg]
            name, parameters=parameters))
    if settings.FRAMECRAFT_MEDIA_ACCEL_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.FRAMECRAFT_MEDIA_ACCEL_PREFIX + quote(name)
        if download_name and disposition:
            response["Content-Disposition"] = disposition
        return _private(response)
    try:
        size = field_file.size
        stream = None if request.method == "HEAD" else field_file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    ranged = _ranged(request, stream, size, content_type)
    if download_name and disposition:
        ranged["Content-Disposition"] = disposition
    return _private(ranged)


def _ranged(request: HttpRequest, stream: IO[bytes] | None, size: int,
            content_type: str) -> HttpResponseBase:
    """The whole file or one byte range; without a stream (HEAD), the same headers only."""
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if not match or not (match.group(1) or match.group(2)):
        # No range, or one we do not serve (several ranges): the whole file, as RFC 9110 allows.
        start, end, status = 0, size - 1, 200
    else:
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # a suffix: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start > end or start >= size:
            if stream is not None:
                stream.close()
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        status = 206
    response: HttpResponseBase
    if stream is None:
        response = HttpResponse(status=status, content_type=content_type)
    elif status == 200:
        response = FileResponse(stream, content_type=content_type)
    else:
        stream.seek(start)
        response = StreamingHttpResponse(_read(stream, end - start + 1), status=206,
                                         content_type=content_type)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def _read(stream: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = stream.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        stream.close()


def _private(response: HttpResponseBase) -> HttpResponseBase:
    # Never kept by shared caches; the browser may keep it for a while.
    response["Cache-Control"] = "private, max-age=3600"
    return response


def delete_after_commit(*files: FieldFile) -> None:
    """Remove these stored files once the transaction that deleted their row commits (a
    rolled-back delete keeps them)."""
    names = [(file.storage, file.name) for file in files if file and file.name]

    def remove() -> None:
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(remove)
