"""A job's media inputs, decoded for the worker: images as PIL images, videos as frames.

A start or end image, or a keyframe, is fitted to the job's size here, the one place that
happens, by the spec's `fit` (crop, with the start image's crop box; pad; stretch)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import av
import numpy as np
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageOps

from generation.models import InputRole, Job, JobInput
from worker.catalogue.media import fit_image

# Masks are greyscale: non-zero marks what is to be repainted.
_GREY_ROLES = {InputRole.MASK}
# Images the video starts on, ends on or passes through, fitted to the frame.
_FITTED_ROLES = {InputRole.START_IMAGE, InputRole.END_IMAGE, InputRole.KEYFRAME}


def load_media(job: Job) -> dict[InputRole, list[Any]]:
    """Every model input of the job, by role and in order (lineage-only rows are skipped)."""
    media: dict[InputRole, list[Any]] = defaultdict(list)
    rows = (job.inputs.exclude(role=InputRole.REMIX_OF).select_related("upload", "video")
            .order_by("role", "position"))
    for row in rows:
        decoded = _decode(row)
        if row.role in _FITTED_ROLES and isinstance(decoded, Image.Image):
            decoded = _fitted(job, decoded, box=row.role == InputRole.START_IMAGE)
        media[InputRole(row.role)].append(decoded)
    return dict(media)


def _fitted(job: Job, image: Image.Image, box: bool) -> Image.Image:
    params = job.params
    return fit_image(image, int(params["width"]), int(params["height"]),
                     params.get("fit", "crop"), params.get("crop") if box else None)


def _decode(row: JobInput) -> Any:
    file = row.upload.file if row.upload is not None else row.video.file if row.video else None
    if file is None:
        raise LookupError(f"The {row.get_role_display().lower()} of this job was deleted.")
    mode = "L" if row.role in _GREY_ROLES else "RGB"
    is_video = row.video is not None or (row.upload is not None and row.upload.kind == "video")
    return _frames(file, mode) if is_video else _image(file, mode)


def _image(file: FieldFile, mode: str) -> Image.Image:
    with file.open("rb") as stream, Image.open(stream) as image:
        return ImageOps.exif_transpose(image).convert(mode)


def _frames(file: FieldFile, mode: str) -> np.ndarray:
    """All frames as uint8, (F, H, W, 3) or (F, H, W) for greyscale."""
    fmt = "gray" if mode == "L" else "rgb24"
    with file.open("rb") as stream, av.open(stream) as container:
        frames = [frame.to_ndarray(format=fmt) for frame in container.decode(video=0)]
    return np.stack(frames)


def video_frame(file: FieldFile, index: int | None = None) -> Image.Image:
    """Frame `index` (counted from 0 in decode order) of a video file, or its last frame when
    None, as RGB. Decoded from the start: our videos are short, and counting decoded frames
    is exact where a seek by time can land a frame off."""
    if index is not None and index < 0:
        raise LookupError(f"There is no frame {index}.")
    chosen = None
    with file.open("rb") as stream, av.open(stream) as container:
        for number, frame in enumerate(container.decode(video=0)):
            chosen = frame
            if number == index:
                break
        else:
            if index is not None or chosen is None:
                raise LookupError("The video has no such frame." if chosen else
                                  "The video has no frames.")
    image: Image.Image = chosen.to_image()
    return image.convert("RGB")

