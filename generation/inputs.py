"""A job's media inputs, decoded for the worker: images as PIL images, videos as frames.

A start or end image is fitted to the job's size here, the one place that happens, by the
spec's `fit` (crop, with the start image's crop box; pad; stretch)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.conf import settings
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageOps

from generation.models import InputRole, Job, JobInput
from worker.catalogue import ErrorCode, GenerationError
from worker.catalogue.media import fit_image
from worker.catalogue.request import LoraWeights

# Masks are greyscale: non-zero marks what is to be repainted.
_GREY_ROLES = {InputRole.MASK}
# Images the video starts or ends on, fitted to the frame.
_FITTED_ROLES = {InputRole.START_IMAGE, InputRole.END_IMAGE}


def load_media(job: Job) -> dict[InputRole, list[Any]]:
    """Every model input of the job, by role and in order (lineage-only rows are skipped)."""
    media: dict[InputRole, list[Any]] = defaultdict(list)
    rows = (job.inputs.exclude(role=InputRole.REMIX_OF).select_related("upload__lora", "video")
            .order_by("role", "position"))
    for row in rows:
        if row.role == InputRole.LORA:
            media[InputRole.LORA].append(lora_weights(row))
            continue
        decoded = _decode(row)
        if row.role in _FITTED_ROLES and isinstance(decoded, Image.Image):
            decoded = _fitted(job, decoded, box=row.role == InputRole.START_IMAGE)
        media[InputRole(row.role)].append(decoded)
    return dict(media)


def lora_weights(row: JobInput) -> LoraWeights:
    """A LoRA input as the worker's request names it: a file on this machine's disk."""
    upload = row.upload
    if upload is None:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              "A LoRA this job uses was deleted before the job ran.")
    name = upload.lora.name if hasattr(upload, "lora") else upload.original_name
    return LoraWeights(path=str(local_copy(upload.file, f"{upload.id}.safetensors")),
                       strength=row.strength if row.strength is not None else 1.0,
                       name=name, key=str(upload.id))


def local_copy(file: FieldFile, name: str) -> Path:
    """The stored file's path on local disk; from object storage, a copy kept in a cache
    folder under the data directory (LoRA files never change once stored)."""
    try:
        return Path(file.path)
    except NotImplementedError:
        pass
    target = Path(settings.DATA_DIR) / "lora-cache" / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with file.open("rb") as source, partial.open("wb") as out:
            shutil.copyfileobj(source, out)
        partial.replace(target)
    return target


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


def last_frame(file: FieldFile) -> Image.Image:
    """The last frame of a video file, upright RGB (decoded through to the end: our videos are
    short; a long upload would want a seek to near the end first)."""
    last = None
    with file.open("rb") as stream, av.open(stream) as container:
        for frame in container.decode(video=0):
            last = frame
    if last is None:
        raise LookupError("The video has no frames.")
    image: Image.Image = last.to_image()
    return image.convert("RGB")
