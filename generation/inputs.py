"""A job's media inputs, decoded for the worker: images as PIL images, videos as frames.

A start or end image, or a keyframe, is fitted to the job's size here, the one place that
happens, by the spec's `fit` (crop, with the start image's crop box; pad; stretch). A video to
edit (and a mask video) is trimmed to the job's clip and resampled to the model's frame rate
here too, the one place that happens. A motion transfer's source video becomes its control
track here: the clip at the preset's frame rate, cropped to the job's size, drawn as depth,
pose, edges, greyscale or flow."""

from __future__ import annotations

import io
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageOps

from generation.models import InputRole, Job, JobInput, MaskTracking, Upload, Video
from generation.presets import Task
from worker.catalogue import ErrorCode, GenerationError, get_preset
from worker.catalogue.media import fit_image
from worker.catalogue.request import AudioTrack, LoraWeights
from worker.editing.audio import read_audio
from worker.editing.clip import ClipError
from worker.editing.clip import clip_frames as decode_clip
from worker.editing.control import ControlError, make_control_track

# Masks are greyscale: non-zero marks what is to be repainted.
_GREY_ROLES = {InputRole.MASK}
# Images the video starts on, ends on or passes through, fitted to the frame.
_FITTED_ROLES = {InputRole.START_IMAGE, InputRole.END_IMAGE, InputRole.KEYFRAME}
# Videos cut to the job's clip (its trim) and played at the model's frame rate.
_CLIPPED_ROLES = {InputRole.SOURCE_VIDEO, InputRole.MASK}


@dataclass(frozen=True)
class Clip:
    """Which part of a video a job uses, and at what frame rate: from `start` to `end`
    seconds (None: to its end), one frame every 1/fps seconds."""

    start: float
    end: float | None
    fps: int


def clip_of(job: Job) -> Clip | None:
    """The clip an editing job takes from its source; None for jobs that use whole videos."""
    params = job.params
    if job.kind == Task.UPSCALE:  # every frame, as it plays
        return Clip(0.0, None, int(params["fps"]))
    if "trim_start" not in params:
        return None
    end = params.get("trim_end")
    return Clip(float(params["trim_start"] or 0.0), None if end is None else float(end),
                get_preset(job.preset).fps)


def load_media(job: Job) -> dict[InputRole, list[Any]]:
    """Every model input of the job, by role and in order (lineage-only rows are skipped)."""
    media: dict[InputRole, list[Any]] = defaultdict(list)
    rows = (job.inputs.exclude(role=InputRole.REMIX_OF).select_related("upload__lora", "video")
            .order_by("role", "position"))
    clip = clip_of(job)
    for row in rows:
        if row.role == InputRole.LORA:
            media[InputRole.LORA].append(lora_weights(row))
            continue
        if job.kind == Task.CONTROL and row.role == InputRole.SOURCE_VIDEO:
            media[InputRole.SOURCE_VIDEO].append(control_track(job, _file(row),
                                                                    upload_rotation(row.upload)))
            continue
        try:
            decoded = _decode(row, _clip_for(row, clip) if row.role in _CLIPPED_ROLES else None)
        except ClipError as problem:
            raise GenerationError(ErrorCode.BAD_PARAMETERS, str(problem)) from None
        if row.role in _FITTED_ROLES and isinstance(decoded, Image.Image):
            decoded = _fitted(job, decoded, box=row.role == InputRole.START_IMAGE)
        media[InputRole(row.role)].append(decoded)
    return dict(media)


def source_audio(job: Job) -> AudioTrack | None:
    """The sound of the job's source video, whole, timed from its first frame (the spec cuts
    it to the clip it keeps: `JobSpec.soundtrack`); None for a job without a source video or
    a source without sound."""
    row = job.inputs.filter(role=InputRole.SOURCE_VIDEO).select_related("upload", "video").first()
    if row is None or (row.upload is None and row.video is None):
        return None
    try:
        with _file(row).open("rb") as stream:
            return read_audio(stream)
    except av.error.FFmpegError as error:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"The source video's sound cannot be read: {error}.") from None


def _clip_for(row: JobInput, clip: Clip | None) -> Clip | None:
    """A tracked mask was made for the job's clip alone: it starts where the clip starts."""
    if clip is None or row.role != InputRole.MASK or row.upload_id is None \
            or not MaskTracking.objects.filter(mask_id=row.upload_id).exists():
        return clip
    return Clip(0.0, None, clip.fps)


def lora_weights(row: JobInput) -> LoraWeights:
    """A LoRA input as the worker's request names it: a file on this machine's disk."""
    upload = row.upload
    if upload is None:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              "A LoRA this job uses was deleted before the job ran.")
    name = upload.lora.name if hasattr(upload, "lora") else upload.original_name
    return LoraWeights(path=str(local_copy(upload.file, f"{upload.id}.safetensors")),
                       strength=row.strength if row.strength is not None else 1.0,
                       name=name, key=str(upload.id), expert=row.expert)


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


def control_track(job: Job, file: FieldFile, rotation: int = 0) -> np.ndarray:
    """The motion transfer's control track, at the job's size and the preset's frame rate."""
    params = job.params
    try:
        with file.open("rb") as stream:
            clip = decode_clip(stream, start_s=float(params.get("start_s", 0.0)),
                               fps=get_preset(job.preset).fps, count=int(params["num_frames"]),
                               rotation=rotation,
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


def _decode(row: JobInput, clip: Clip | None = None) -> Any:
    file = _file(row)
    mode = "L" if row.role in _GREY_ROLES else "RGB"
    is_video = row.video is not None or (row.upload is not None and row.upload.kind == "video")
    if not is_video:
        return _image(file, mode)
    if clip is None:
        return _frames(file, mode)
    return clip_frames(file, clip, mode, upload_rotation(row.upload))


def upload_rotation(upload: Upload | None) -> int:
    """A phone's portrait video is stored turned; people (and masks drawn on it) see it
    upright, and so does every model input, track and preview made from it."""
    return int(upload.metadata.get("rotation", 0)) if upload is not None else 0


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


def frame_upload(owner: Any, video: Video, index: int | None = None) -> Upload:
    """Frame `index` of a video (its last when None) as one of `owner`'s uploads, noting in its
    metadata where it came from, for the lineage of what is made from it. Raises what
    `video_frame` and `accept_upload` raise (an unreadable video, the owner's quota)."""
    from generation.uploads import accept_upload

    buffer = io.BytesIO()
    video_frame(video.file, index).save(buffer, "PNG")
    which = "last-frame" if index is None else f"frame-{index}"
    upload = accept_upload(owner, SimpleUploadedFile(f"{which}-{str(video.id)[:8]}.png",
                                                     buffer.getvalue(), "image/png"))
    upload.metadata = {**upload.metadata, "frame_of": str(video.id),
                       "frame": "last" if index is None else index}
    upload.save(update_fields=["metadata"])
    return upload


def frame_at(file: FieldFile, seconds: float) -> Image.Image:
    """The frame shown at `seconds` into a video (its last one past the end), upright RGB."""
    chosen = None
    with file.open("rb") as stream, av.open(stream) as container:
        for frame in container.decode(video=0):
            if chosen is not None and frame.time is not None and frame.time > seconds:
                break
            chosen = frame
    if chosen is None:
        raise LookupError("The video has no frames.")
    image: Image.Image = chosen.to_image()
    return image.convert("RGB")


def clip_frames(file: FieldFile, clip: Clip, mode: str = "RGB", rotation: int = 0
                ) -> np.ndarray:
    """A stored video's clip as every job input decodes it (worker.editing.clip): the frames
    on screen each 1/fps from `clip.start` to `clip.end`, upright. Raises ClipError."""
    with file.open("rb") as stream:
        return decode_clip(stream, start_s=clip.start, end_s=clip.end, fps=clip.fps,
                           mode=mode, rotation=rotation)


def mask_coverage(upload: Upload) -> float:
    """The share of a mask upload's pixels that are marked (mid-grey and above), over all its
    frames: 0 for an empty mask, 1 for one that marks everything."""
    from worker.editing.masks import marked

    if upload.kind != "video":
        return float(marked(np.asarray(_image(upload.file, "L"))).mean())
    # Frame by frame: a long mask video is never held whole.
    hits = total = 0
    with upload.file.open("rb") as stream, av.open(stream) as container:
        for frame in container.decode(video=0):
            grey = marked(frame.to_ndarray(format="gray"))
            hits, total = hits + int(grey.sum()), total + grey.size
    return hits / total if total else 0.0
