"""Accepting a user's file: validated by its content, normalized, stored under a server-made name.

`accept_upload` is the only way an Upload row comes to be. A refusal raises `UploadRefused`
with a sentence for the person and leaves no row and no file behind.
"""

from __future__ import annotations

import tempfile
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import User
from generation.models import Upload, UploadKind

IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
MIN_SIDE = 64


class UploadRefused(ValueError):
    """The file was not accepted; `message` says why, for the person who sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def accept_upload(user: User, file: UploadedFile) -> Upload:
    if not file.size:
        raise UploadRefused("The file is empty (0 bytes).")
    file.seek(0)
    with tempfile.TemporaryFile() as normalized:
        width, height, metadata = _normalize_image(file, normalized)
        upload = Upload(owner=user, kind=UploadKind.IMAGE, original_name=_display_name(file),
                        width=width, height=height, metadata=metadata)
        normalized.seek(0)
        with transaction.atomic():
            upload.file.save("image.png", File(normalized), save=False)
            try:
                upload.size_bytes = upload.file.size
                upload.save()
            except BaseException:
                upload.file.delete(save=False)
                raise
    return upload


def _display_name(file: UploadedFile) -> str:
    return (file.name or "").replace("\\", "/").rsplit("/", 1)[-1][:255]


def _normalize_image(source: IO[bytes], out: IO[bytes]) -> tuple[int, int, dict[str, object]]:
    try:
        with Image.open(source) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in IMAGE_FORMATS:
                raise UploadRefused("Only PNG, JPEG and WebP images are accepted.")
            probe.verify()
        source.seek(0)
        with Image.open(source) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except UploadRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadRefused("This file is not an image or video we can read.") from None
    width, height = rgb.size
    rgb.save(out, format="PNG")
    return width, height, {"format": fmt}
