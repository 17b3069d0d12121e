"""Making a control track preview on the models worker: the clip decoded small, the track
drawn on the CPU (no GPU time is spent before the user says go), encoded as a short MP4."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.core.files import File

from generation.inputs import upload_rotation
from generation.models import ControlPreview, JobStatus
from worker.catalogue import GenerationError
from worker.editing.clip import ClipError, clip_frames
from worker.editing.control import ControlError, make_control_track
from worker.runtime.encode import encode_mp4

log = logging.getLogger("framecraft.worker")

# The preview's long side in pixels: enough to judge the track, quick on a CPU.
LONG_SIDE = 320


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The source's shape at LONG_SIDE (even sides, as H.264 wants)."""
    scale = min(1.0, LONG_SIDE / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def make_preview(preview_id: str) -> str | None:
    """Draw a queued preview; its final status (None when it was not ours to make)."""
    if not ControlPreview.objects.filter(pk=preview_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING):
        return None
    preview = ControlPreview.objects.select_related("video", "upload").get(pk=preview_id)
    source = preview.video or preview.upload
    try:
        if source is None or not source.file:
            raise ClipError("The source video was deleted.")
        with source.file.open("rb") as stream:
            clip = clip_frames(stream, start_s=preview.start_s, fps=preview.fps,
                               count=preview.num_frames, rotation=upload_rotation(preview.upload),
                               size=preview_size(source.width, source.height), fit="stretch")
        track = make_control_track(preview.control, clip, device="cpu")
        with tempfile.TemporaryDirectory(prefix="framecraft-preview-") as tmp:
            path = Path(tmp) / "preview.mp4"
            encode_mp4(track, preview.fps, path, metadata={"title": f"{preview.control} track"})
            with path.open("rb") as stream:
                preview.file.save("preview.mp4", File(stream), save=False)
        status, message = JobStatus.SUCCEEDED, ""
    except (ClipError, ControlError, GenerationError) as problem:
        status, message = JobStatus.FAILED, str(problem)
    except Exception as problem:
        log.exception("control preview %s crashed", preview_id)
        status, message = JobStatus.FAILED, f"The preview could not be made: {problem}"
    ControlPreview.objects.filter(pk=preview_id).update(status=status, message=message,
                                                        file=preview.file.name or "")
    return str(status)
