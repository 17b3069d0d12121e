"""Making a tracked mask on the models worker: the clip decoded (long side at most
MAX_SIDE), SAM 2 run from the owner's clicks (on the worker's GPU if it has one), the masks
encoded losslessly and stored as one of the owner's uploads through the one way uploads come
to be."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import av
import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.inputs import upload_rotation
from generation.models import JobStatus, MaskTracking
from generation.uploads import UploadRefused, accept_upload
from worker.catalogue import GenerationError
from worker.editing.clip import ClipError, clip_frames
from worker.editing.tracking import TrackingError, track_mask

log = logging.getLogger("framecraft.worker")

# Masks are fitted to the job's size later; tracking beyond VACE's largest size gains nothing.
MAX_SIDE = 1280


def tracking_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def encode_masks(masks: np.ndarray, fps: int, path: Path) -> None:
    """(F, H, W) bool → lossless H.264 (QP 0, 4:4:4): white where the mask is, black else."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"qp": "0", "preset": "fast"})
        stream.width, stream.height = masks.shape[2], masks.shape[1]
        stream.pix_fmt = "yuv444p"
        for mask in masks:
            grey = np.where(mask, 255, 0).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, axis=-1),
                                               format="rgb24")
            container.mux(stream.encode(frame.reformat(format="yuv444p")))
        container.mux(stream.encode(None))


def make_mask(tracking_id: str) -> str | None:
    """Track a queued mask; its final status (None when it was not ours to make)."""
    if not MaskTracking.objects.filter(pk=tracking_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING):
        return None
    tracking = MaskTracking.objects.select_related("video", "upload", "owner").get(
        pk=tracking_id)
    source = tracking.video or tracking.upload
    mask_upload = None
    try:
        if source is None or not source.file:
            raise ClipError("The source video was deleted.")
        size = tracking_size(source.width, source.height)
        with source.file.open("rb") as stream:
            clip = clip_frames(stream, start_s=tracking.start_s, fps=tracking.fps,
                               count=tracking.num_frames, size=size, fit="stretch",
                               rotation=upload_rotation(tracking.upload))
        scale_x, scale_y = size[0] / source.width, size[1] / source.height
        clicks = [(c[0], c[1] * scale_x, c[2] * scale_y, c[3]) for c in tracking.clicks]
        # FRAMECRAFT_DEVICE, else CUDA where the models worker has a GPU: SAM 2 takes
        # seconds a frame on a CPU.
        masks = track_mask(clip, clicks)
        with tempfile.TemporaryDirectory(prefix="framecraft-mask-") as tmp:
            path = Path(tmp) / "mask.mp4"
            encode_masks(masks, tracking.fps, path)
            mask_upload = accept_upload(tracking.owner, SimpleUploadedFile(
                "tracked-mask.mp4", path.read_bytes(), content_type="video/mp4"))
        mask_upload.metadata = {**mask_upload.metadata, "mask_of": str(source.id),
                                "tracking": str(tracking.id)}
        mask_upload.save(update_fields=["metadata"])
        status, message = JobStatus.SUCCEEDED, ""
    except (ClipError, TrackingError, GenerationError, UploadRefused) as problem:
        status, message = JobStatus.FAILED, str(getattr(problem, "message", problem))
    except Exception as problem:
        log.exception("mask tracking %s crashed", tracking_id)
        status, message = JobStatus.FAILED, f"The mask could not be tracked: {problem}"
    MaskTracking.objects.filter(pk=tracking_id).update(status=status, message=message,
                                                       mask=mask_upload)
    return str(status)
