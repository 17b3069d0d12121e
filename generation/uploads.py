"""Accepting a user's file: validated by its content, normalized, stored under a server-made name.

`accept_upload` is the only way an Upload row comes to be. A refusal raises `UploadRefused`
with a sentence for the person and leaves no row and no file behind. Nothing here trusts the
file's name or the browser's Content-Type: images are what Pillow detects from their bytes,
videos what PyAV's demuxer detects.

Images are stored normalized: upright (EXIF orientation applied), 8-bit RGB PNG, transparency
composited on white, so workers never meet odd modes. Videos are stored as they came (after a
probe that reads the header and demuxes, and decodes the first frame only).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import av
import av.error
import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from accounts.models import User
from generation.media import delete_after_commit
from generation.models import Upload, UploadKind

IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
# The demuxers PyAV names for MP4/MOV and for WebM (Matroska's demuxer reads both).
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "mov": "mp4", "matroska,webm": "webm",
                    "matroska": "webm"}
VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1"}
# What a file picker offers for a video (the content is what is checked).
VIDEO_ACCEPT = "video/mp4,video/quicktime,video/webm"
MIN_SIDE = 64
MAX_FPS = 240.0
THUMB_SIDE = 384
# The uploads page, the LoRA page and the API say it alike.
RATE_LIMITED = "You are uploading very fast; wait a minute and try again."
_NOT_READABLE = ("This file is not a PNG, JPEG or WebP image, nor an MP4, MOV or WebM video "
                 "we can read.")


class UploadRefused(ValueError):
    """The file was not accepted; `message` says why, for the person who sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Probed:
    kind: UploadKind
    stored: IO[bytes]  # what is stored: the normalized PNG, or the video as it came
    suffix: str
    thumb: IO[bytes] | None  # None: nothing to show (a LoRA)
    width: int
    height: int
    frame_count: int = 0
    fps: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


def max_upload_bytes() -> int:
    return int(settings.FRAMECRAFT_MAX_UPLOAD_MB) * 1024 * 1024


def too_large_message() -> str:
    return f"The file is larger than the {settings.FRAMECRAFT_MAX_UPLOAD_MB} MB limit."


def accept_upload(user: User, file: UploadedFile) -> Upload:
    """Validate `file` by its content, store it (normalized) and return the saved Upload."""
    size = file.size or 0
    if size == 0:
        raise UploadRefused("The file is empty (0 bytes).")
    if size > max_upload_bytes():
        raise UploadRefused(too_large_message())
    _check_quota(user, size)  # early, before any decoding; checked again under a lock
    with tempfile.TemporaryFile() as scratch, tempfile.TemporaryFile() as thumb:
        probed = _probe(file, scratch, thumb)
        return _store(user, file, probed)


def _store(user: User, file: UploadedFile, probed: _Probed,
           also: Callable[[Upload], object] | None = None) -> Upload:
    """Store the probed file as the user's Upload, within their quota; `also` runs in the same
    transaction once the row exists (a failure there leaves no row and no file either)."""
    upload = Upload(owner=user, kind=probed.kind, original_name=_display_name(file),
                    width=probed.width, height=probed.height, frame_count=probed.frame_count,
                    fps=probed.fps, metadata=probed.metadata)
    probed.stored.seek(0, 2)
    upload.size_bytes = probed.stored.tell()
    saved: list[Any] = []
    try:
        with transaction.atomic():
            # One upload of a user at a time passes here, so two cannot both fit the last space.
            locked = User.objects.select_for_update().get(pk=user.pk)
            _check_quota(locked, upload.size_bytes)
            for field_file, source, name in ((upload.file, probed.stored, "file" + probed.suffix),
                                             (upload.thumb, probed.thumb, "thumb.jpg")):
                if source is None:
                    continue
                source.seek(0)
                field_file.save(name, File(source), save=False)
                saved.append(field_file)
            upload.save(force_insert=True)
            if also is not None:
                also(upload)
    except BaseException:
        for field_file in saved:
            field_file.delete(save=False)
        raise
    return upload


def uploads_bytes(user: User) -> int:
    total = Upload.objects.filter(owner=user).aggregate(total=Sum("size_bytes"))["total"]
    return int(total or 0)


def storage_use(user: User) -> dict[str, int]:
    """What the uploads and LoRA pages show of a user's storage: bytes used, the quota, and
    what is left of it."""
    used, quota = uploads_bytes(user), user.storage_quota_bytes
    return {"used": used, "quota": quota, "free": max(0, quota - used)}


def _check_quota(user: User, size: int) -> None:
    quota = user.storage_quota_bytes
    used = uploads_bytes(user)
    if used + size > quota:
        free = max(0, quota - used)
        raise UploadRefused(
            f"This file ({_size(size)}) does not fit in your storage: you use {_size(used)} of "
            f"{_size(quota)}, {_size(free)} free. Delete some uploads on the My uploads page "
            "to make room.")


def _size(n: int) -> str:
    return str(filesizeformat(n)).replace("\xa0", " ")


def _display_name(file: UploadedFile) -> str:
    name = (file.name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:255]


def _probe(file: UploadedFile, scratch: IO[bytes], thumb: IO[bytes]) -> _Probed:
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if _looks_like_image(head):
        return _probe_image(file, scratch, thumb)
    if _looks_like_audio(head):
        raise UploadRefused(SOUND_ONLY)
    return _probe_video(file, thumb)


# Sound alone is no input a job can use; a video's sound is kept with it.
SOUND_ONLY = ("This is a sound file with no picture. Uploads are images and videos; a video's "
              "sound is kept with it, so upload the video that has the sound.")


def _looks_like_audio(head: bytes) -> bool:
    """MP3 (ID3 tag or frame sync), WAV, Ogg, FLAC, AIFF: never opened, refused by name."""
    return (head.startswith((b"ID3", b"OggS", b"fLaC", b"#!AMR"))
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
            or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
            or (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC")))


def _looks_like_image(head: bytes) -> bool:
    return (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"))


# --- Images ---------------------------------------------------------------------------------

def _probe_image(source: IO[bytes], out: IO[bytes], thumb: IO[bytes]) -> _Probed:
    limit = int(settings.FRAMECRAFT_MAX_IMAGE_PIXELS)
    try:
        # The header only: the size is known before a pixel is decoded. (Image.open's own
        # bomb check would refuse first, without the size, for the biggest.)
        with _open_image(source) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if width * height > limit:
                raise UploadRefused(
                    f"This image is {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
                    f"images may have at most {limit / 1e6:g} MP.")
            probe.verify()
        source.seek(0)
        with _open_image(source) as image:
            image.load()
            mode = image.mode
            turned = image.getexif().get(ExifTags.Base.Orientation, 1) not in (1, None)
            # In place: a big image's pixels are held once, not once per step.
            ImageOps.exif_transpose(image, in_place=True)
            rgb, had_alpha = to_rgb(image)
    except UploadRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError):
        raise UploadRefused("This image is damaged or incomplete, or not a PNG, JPEG or WebP "
                            "image we can read.") from None
    width, height = rgb.size
    _check_min_size(width, height, "image")
    rgb.save(out, format="PNG")
    _save_thumb(rgb, thumb)
    return _Probed(UploadKind.IMAGE, out, ".png", thumb, width, height, metadata={
        "format": IMAGE_FORMATS[fmt], "mode": mode, "had_alpha": had_alpha,
        "orientation_applied": turned,
    })


def _open_image(source: IO[bytes]) -> Image.Image:
    """The format's own opener (reads the header), without Image.open's global bomb limit:
    ours, a setting, is checked by the caller before anything is decoded."""
    Image.init()
    head = source.read(16)
    source.seek(0)
    for fmt in IMAGE_FORMATS:
        factory, accept = Image.OPEN[fmt]
        if accept is None or accept(head):
            return factory(source, "")
    raise UnidentifiedImageError("not a PNG, JPEG or WebP image")


def to_rgb(image: Image.Image) -> tuple[Image.Image, bool]:
    """8-bit RGB of any mode; transparency is composited on white. Returns (image, had alpha)."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        # 16-bit (and 32-bit) greyscale: scale to 8 bits rather than clip at 255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB"), False
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), True
    return (image if mode == "RGB" else image.convert("RGB")), False


def _check_min_size(width: int, height: int, what: str) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise UploadRefused(f"This {what} is {width}×{height} pixels; it must be at least "
                            f"{MIN_SIDE}×{MIN_SIDE}.")


def _save_thumb(image: Image.Image, out: IO[bytes]) -> None:
    scale = min(1.0, THUMB_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # resize makes only the small copy (thumbnail() would copy the whole image first).
    small = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    small.convert("RGB").save(out, format="JPEG", quality=85)


# --- Videos ---------------------------------------------------------------------------------

_MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _demuxer(head: bytes) -> str | None:
    """The one FFmpeg demuxer this file may meet, by its magic bytes: only the two we accept
    ever parse untrusted input, not whichever of FFmpeg's hundreds probing would pick."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[4:8] in _MOV_BOXES:
        return "mov"
    return None


@contextmanager
def _opened(source: IO[bytes]) -> Iterator[av.container.InputContainer]:
    head = source.read(16)
    source.seek(0)
    demuxer = _demuxer(head)
    if demuxer is None:
        raise UploadRefused(_NOT_READABLE)
    try:
        container = av.open(source, mode="r", format=demuxer)
    except (av.error.FFmpegError, ValueError, OSError, UnicodeDecodeError):
        raise UploadRefused(_NOT_READABLE) from None
    try:
        yield container
    finally:
        container.close()


def _probe_video(source: UploadedFile, thumb: IO[bytes]) -> _Probed:
    with _opened(source) as container:
        try:
            found = _check_video(container)
            first = _first_frame(container)
        except av.error.FFmpegError:
            raise UploadRefused("This video is damaged or incomplete: it could not be "
                                "read to its end.") from None
        rotation = _rotation(found["stream_metadata"], first)
        image = first.to_image()
        if rotation:
            # The display matrix turns counter-clockwise; PIL's rotate does too.
            image = image.rotate(rotation, expand=True)
        _save_thumb(image, thumb)
    width, height = found["width"], found["height"]
    if rotation in (90, 270):
        width, height = height, width
    source.seek(0)
    metadata = {
        "container": found["container"], "codec": found["codec"], "duration": found["duration"],
        "rotation": rotation, "coded_width": found["width"], "coded_height": found["height"],
        "frame_count_estimated": found["estimated"], "pix_fmt": found["pix_fmt"],
        **({"audio": found["audio"]} if found["audio"] else {}),
    }
    return _Probed(UploadKind.VIDEO, source, "." + found["container"], thumb, width, height,
                   frame_count=found["frames"], fps=found["fps"], metadata=metadata)


def _check_video(container: av.container.InputContainer) -> dict[str, Any]:
    fmt = container.format.name
    if fmt not in VIDEO_CONTAINERS:
        raise UploadRefused(_NOT_READABLE)
    if not container.streams.video:
        raise UploadRefused(SOUND_ONLY if container.streams.audio
                            else "This file has no video track.")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # a file cut short can leave a stream with no codec
        raise UploadRefused("This video is damaged or incomplete: its video track cannot be "
                            "read.")
    # The codec, not the decoder that reads it: AV1 is decoded by `libdav1d` or `libaom-av1`.
    codec = stream.codec_context.codec.canonical_name
    if codec not in VIDEO_CODECS:
        raise UploadRefused(f"Videos must be H.264, HEVC, VP8, VP9 or AV1; this one is "
                            f"{codec or 'of an unknown codec'}.")
    if VIDEO_CONTAINERS[fmt] == "webm" and codec not in ("vp8", "vp9", "av1"):
        raise UploadRefused("Matroska files are accepted as WebM only (VP8, VP9 or AV1).")
    width, height = stream.codec_context.width, stream.codec_context.height
    max_side = int(settings.FRAMECRAFT_MAX_VIDEO_SIDE)
    short_side = max_side * 9 // 16
    if max(width, height) > max_side or min(width, height) > short_side:
        raise UploadRefused(f"This video is {width}×{height}; videos may be at most "
                            f"{max_side}×{short_side}.")
    _check_min_size(width, height, "video")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if not (0.5 <= fps <= MAX_FPS) or not math.isfinite(fps):
        raise UploadRefused(f"This video's frame rate ({fps:g} fps) is not one we can use; "
                            f"it must be between 1 and {MAX_FPS:g} fps.")
    duration = _duration(container, stream)
    limit = float(settings.FRAMECRAFT_MAX_UPLOAD_SECONDS)
    if duration is None:
        raise UploadRefused("This video does not say how long it is; it may be damaged.")
    if duration > limit:
        raise UploadRefused(f"This video is {duration:.1f} s long; videos may be at most "
                            f"{limit:g} s.")
    frames, estimated = stream.frames, False
    if not frames:
        frames, estimated = max(1, round(duration * fps)), True
    _check_complete(container, stream, frames, estimated)
    return {"container": VIDEO_CONTAINERS[fmt], "codec": codec, "width": width,
            "height": height, "fps": round(fps, 3), "duration": round(duration, 3),
            "frames": frames, "estimated": estimated,
            "pix_fmt": stream.codec_context.pix_fmt, "stream_metadata": dict(stream.metadata),
            "audio": _sound(container)}


def _sound(container: av.container.InputContainer) -> dict[str, Any] | None:
    """The first audio stream's facts, kept with the video (edits keep its sound in step);
    None for a silent video, or one whose sound FFmpeg cannot decode (kept, silent)."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    context = stream.codec_context
    if context is None or context.codec is None or not context.sample_rate:
        return None
    duration = _duration(container, stream)
    return {"codec": context.codec.canonical_name, "sample_rate": int(context.sample_rate),
            "channels": int(context.channels or 0),
            "duration_s": round(duration, 3) if duration else None}


def _duration(container: av.container.InputContainer, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _check_complete(container: av.container.InputContainer, stream: Any, frames: int,
                    estimated: bool) -> None:
    """Demux (no decoding) the video's packets: a file cut short has fewer than it claims."""
    packets = 0
    allowed = frames * 2 + 16
    for packet in container.demux(stream):
        if packet.size:
            packets += 1
            if packets > allowed:
                raise UploadRefused("This video has more frames than its header says; it may "
                                    "be damaged.")
    if packets == 0 or (not estimated and packets < frames):
        raise UploadRefused("This video is damaged or incomplete: it ends before its last "
                            "frame.")


def _first_frame(container: av.container.InputContainer) -> av.VideoFrame:
    container.seek(0)
    stream = container.streams.video[0]
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        pass
    raise UploadRefused("This video's first frame could not be decoded; the file may be "
                        "damaged.")


def _rotation(stream_metadata: dict[str, str], frame: av.VideoFrame) -> int:
    degrees: float = 0
    try:
        degrees = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        degrees = 0
    if not degrees and stream_metadata.get("rotate"):
        try:
            # The old `rotate` tag is clockwise; the display matrix counter-clockwise.
            degrees = -float(stream_metadata["rotate"])
        except ValueError:
            degrees = 0
    return int(round(degrees / 90) * 90) % 360


# --- The request's size limit, enforced while the body streams in ----------------------------

class SizeLimitHandler(FileUploadHandler):
    """Stops reading a file field once it passes FRAMECRAFT_MAX_UPLOAD_MB, so a huge body is
    never stored; the view sees `request.upload_too_large` and refuses with the message."""

    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes() if limit is None else limit

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.limit:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None



@receiver(post_delete, sender=Upload)
def _delete_files(sender: type[Upload], instance: Upload, **kwargs: Any) -> None:
    """Remove a deleted upload's files, once the deletion is committed."""
    delete_after_commit(instance.file, instance.thumb)
