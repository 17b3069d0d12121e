"""A mask tracked over a clip (framecraft.trackMask → the models worker) becomes a masked
edit's mask: accepted for the clip it was made for, refused for another, and decoded for the
worker from its own first frame, which is the clip's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.inputs import load_media
from generation.models import InputRole, Job, JobInput, MaskTracking, Upload
from generation.uploads import accept_upload
from tests.editing.media import rect_mask
from tests.editing.test_edit_forms import edit_data, refused, submit
from worker.mask_tracking import encode_masks

pytestmark = pytest.mark.django_db


def moving_box(frames: int) -> np.ndarray:
    """A box moving right 6 pixels a frame, as SAM 2 would follow a subject: (F, 64, 96)."""
    return np.stack([rect_mask(96, 64, (10 + 6 * i, 10, 40 + 6 * i, 40)) > 0
                     for i in range(frames)])


def tracked_mask(owner: Any, source: Any, masks: np.ndarray, start_s: float, fps: int) -> Upload:
    """What the models worker leaves behind: the lossless mask video among the owner's
    uploads, and the finished tracking that made it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mask.mp4"
        encode_masks(masks, fps, path)
        upload = accept_upload(owner, SimpleUploadedFile(
            "tracked-mask.mp4", path.read_bytes(), content_type="video/mp4"))
    MaskTracking.objects.create(owner=owner, video=source, clicks=[[0, 20, 20, True]],
                                start_s=start_s, num_frames=len(masks), fps=fps,
                                status="succeeded", mask=upload)
    return upload


def test_a_tracked_mask_is_accepted_for_its_clip_and_follows_the_subject(
        owner, owner_client, source, vace_installed):
    # The source: 2 s at 8 fps (16 frames); VACE's 16 fps makes the clip from 0.5 s 24 frames,
    # the job takes the first 5, the mask was tracked over exactly those.
    masks = moving_box(5)
    mask = tracked_mask(owner, source, masks, start_s=0.5, fps=16)
    response = submit(owner_client, edit_data(source, trim_start="0.5", mask=str(mask.id)))
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner, kind="edit")
    assert JobInput.objects.get(job=job, role=InputRole.MASK).upload == mask

    media = load_media(job)
    decoded = np.asarray(media[InputRole.MASK][0])
    assert decoded.shape == (5, 64, 96)
    assert ((decoded > 127) == masks).all()  # lossless, frame for frame, from the clip's start
    assert len(media[InputRole.SOURCE_VIDEO][0]) >= 5


@pytest.mark.parametrize("overrides", [{"trim_start": "0"}, {"trim_start": "0.5",
                                                               "num_frames": "9"}])
def test_a_tracked_mask_is_refused_for_another_clip(owner, owner_client, source,
                                                    vace_installed, overrides):
    mask = tracked_mask(owner, source, moving_box(5), start_s=0.5, fps=16)
    refused(owner_client, edit_data(source, mask=str(mask.id), **overrides),
            "The mask was tracked over 5 frames from 0.5 s at 16 fps")
    assert Upload.objects.filter(pk=mask.pk).exists()  # still there to track again from


def test_a_mask_tracked_on_another_video_is_refused(owner, owner_client, source,
                                                    vace_installed):
    from tests.editing.conftest import gallery_video
    from tests.editing.media import numbered_frames

    other = gallery_video(owner, numbered_frames(16), fps=8)
    mask = tracked_mask(owner, other, moving_box(5), start_s=0.0, fps=16)
    refused(owner_client, edit_data(source, mask=str(mask.id)),
            "This tracked mask follows a subject in another video")
