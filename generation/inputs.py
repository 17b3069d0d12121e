"""A job's media inputs, decoded for the worker: images as PIL images, videos as frames.

A start or end image is fitted to the job's size here, the one place that happens, by the
spec's `fit` (crop, with the start image's crop box; pad; stretch). A motion transfer's source
video becomes its control track here: the clip at the preset's frame rate, cropped to the
job's size, drawn as depth, pose, edges, greyscale or flow."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import av
import numpy as np
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageOps

from generation.models import InputRole, Job, JobInput
from generation.presets import Task, get_preset
from worker.catalogue import ErrorCode, GenerationError
from worker.catalogue.media import fit_image
from worker.editing.clip import ClipError, read_clip
from worker.editing.control import ControlError, make_control_track

# Masks are greyscale: non-zero marks what is to be repainted.
_GREY_ROLES = {InputRole.MASK}
# Images the video starts or ends on, fitted to the frame.
_FITTED_ROLES = {InputRole.START_IMAGE, InputRole.END_IMAGE}


def load_media(job: Job) -> dict[InputRole, list[Any]]:
    """Every model input of the job, by role and in order (lineage-only rows are skipped)."""
    media: dict[InputRole, list[Any]] = defaultdict(list)
    rows = (job.inputs.exclude(role=InputRole.REMIX_OF).select_related("upload", "video")
            .order_by("role", "position"))
    for row in rows:
        if job.kind == Task.CONTROL and row.role == InputRole.SOURCE_VIDEO:
            media[InputRole.SOURCE_VIDEO].append(control_track(job, _file(row)))
            continue
        decoded = _decode(row)
        if row.role in _FITTED_ROLES and isinstance(decoded, Image.Image):
            decoded = _fitted(job, decoded, box=row.role == InputRole.START_IMAGE)
        media[InputRole(row.role)].append(decoded)
    return dict(media)


def _fitted(job: Job, image: Image.Image, box: bool) -> Image.Image:
    params = job.params
    return fit_image(image, int(params["width"]), int(params["height"]),
                     params.get("fit", "crop"), params.get("crop") if box else None)


def control_track(job: Job, file: FieldFile) -> np.ndarray:
    """The motion transfer's control track, at the job's size and the preset's frame rate."""
    params = job.params
    try:
        with file.open("rb") as stream:
            clip = read_clip(stream, start_s=float(params.get("start_s", 0.0)),
                             target_fps=get_preset(job.preset).fps,
                             count=int(params["num_frames"]),
                             size=(int(params["width"]), int(params["height"])))
        return make_control_track(params["control"], clip)
    except (ClipError, ControlError) as problem:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, str(problem)) from None
    finally:
        # The job's memory plan counts the video model alone: the helpers that drew the
        # track (depth, pose) leave the GPU before it runs.
        from worker.editing.helpers import forget_all

        forget_all()


def _file(row: JobInput) -> FieldFile:
    file = row.upload.file if row.upload is not None else row.video.file if row.video else None
    if not file:
        raise LookupError(f"The {row.get_role_display().lower()} of this job was deleted.")
    return file


def _decode(row: JobInput) -> Any:
    file = _file(row)
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
