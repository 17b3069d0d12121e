"""Shared pieces of the image-to-video tests: image uploads and the image form's data."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image

from generation.models import Upload, UploadKind


def png_bytes(size: tuple[int, int] = (200, 120), colour=(200, 30, 30)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def image_upload(owner: Any, size: tuple[int, int] = (200, 120), colour=(200, 30, 30)
                 ) -> Upload:
    upload = Upload(owner=owner, kind=UploadKind.IMAGE, width=size[0], height=size[1])
    upload.file.save("x.png", ContentFile(png_bytes(size, colour)), save=False)
    upload.save()
    return upload


def i2v_data(preset: str = "ltx-video", **overrides: Any) -> dict[str, Any]:
    data = {"task": "i2v", "preset": preset, "prompt": "the boat sails away",
            "negative_prompt": "", "size": "704x480", "num_frames": "9", "steps": "2",
            "guidance": "3.0", "seed": "7", "fit": "crop"}
    data.update(overrides)
    return data
