"""What the edit specs hand the model and what they make of its frames, on decoded media: the
mask fitted to the job (fixed or frame by frame), kept or changed, the reframing canvas, the
extension's context, and the finish step (the source kept outside the area; the join)."""

from __future__ import annotations

import uuid

import numpy as np

from generation.models import InputRole
from generation.specs import EditVideo, ExtendVideo, InputRef
from worker.catalogue import GenerationResult
from worker.editing.masks import EMPTY_GREY

SOURCE = InputRef(InputRole.SOURCE_VIDEO, video_id=uuid.uuid4())
COMMON = {"preset": "wan2.1-vace-1.3b", "prompt": "a red door", "width": 80, "height": 40,
          "num_frames": 5, "steps": 2, "guidance": 5.0, "seed": 1}


def _clip(count: int = 8, width: int = 40, height: int = 20) -> np.ndarray:
    return np.full((count, height, width, 3), 90, np.uint8)


def _result(frames: np.ndarray) -> GenerationResult:
    return GenerationResult(frames=frames, fps=16, timings={}, device="cpu",
                            memory_profile="cpu")


def test_a_drawn_mask_is_fitted_to_the_job_and_held_over_the_clip():
    mask = np.zeros((20, 40), np.uint8)
    mask[:10, :20] = 255  # the top-left quarter of the source
    spec = EditVideo(**COMMON, inputs=(SOURCE,))
    request = spec.to_request({InputRole.SOURCE_VIDEO: [_clip()], InputRole.MASK: [mask]})
    assert request.video.shape == (5, 40, 80, 3)
    assert request.mask.shape == (5, 40, 80)
    assert (request.mask[:, :20, :40] == 255).all() and (request.mask[:, 20:] == 0).all()


def test_keep_inverts_and_a_mask_video_follows_the_clip_frame_by_frame():
    masks = np.zeros((8, 20, 40), np.uint8)
    for index in range(8):
        masks[index, :, index * 5:(index + 1) * 5] = 255  # a band moving right
    spec = EditVideo(**COMMON, mode="keep", inputs=(SOURCE,))
    request = spec.to_request({InputRole.SOURCE_VIDEO: [_clip()], InputRole.MASK: [masks]})
    assert request.mask.shape == (5, 40, 80)
    assert (request.mask[0, :, :10] == 0).all() and (request.mask[0, :, 10:] == 255).all()
    assert (request.mask[3, :, 30:40] == 0).all() and (request.mask[3, :, :30] == 255).all()


def test_the_finished_edit_keeps_the_source_outside_the_area_exactly():
    mask = np.zeros((20, 40), np.uint8)
    mask[5:15, 10:30] = 255
    spec = EditVideo(**COMMON, feather=0, inputs=(SOURCE,))
    media = {InputRole.SOURCE_VIDEO: [_clip()], InputRole.MASK: [mask]}
    made = spec.finish(media, _result(np.full((5, 40, 80, 3), 250, np.uint8))).frames
    assert (made[:, :10] == 90).all() and (made[:, 10:30, 20:60] == 250).all()


def test_reframing_puts_the_clip_on_a_grey_canvas_and_marks_the_rest():
    spec = EditVideo(**{**COMMON, "width": 40, "height": 80}, mode="reframe", anchor="start",
                     inputs=(SOURCE,))
    request = spec.to_request({InputRole.SOURCE_VIDEO: [_clip()]})
    assert request.video.shape == (5, 80, 40, 3)
    assert (request.video[:, :20] == 90).all() and (request.video[:, 20:] == EMPTY_GREY).all()
    assert (request.mask[:, :20] == 0).all() and (request.mask[:, 20:] == 255).all()


def test_an_extension_gives_the_model_the_clips_tail_and_joins_what_it_made():
    clip = np.stack([np.full((40, 80, 3), 10 * i, np.uint8) for i in range(12)])
    spec = ExtendVideo(**{**COMMON, "num_frames": 9}, context_frames=5, inputs=(SOURCE,))
    media = {InputRole.SOURCE_VIDEO: [clip]}
    request = spec.to_request(media)
    assert [int(f.mean()) for f in request.video] == [70, 80, 90, 100, 110]
    made = np.stack([np.full((40, 80, 3), 70 + 10 * i, np.uint8) for i in range(9)])
    joined = spec.finish(media, _result(made)).frames
    assert len(joined) == 12 + 9 - 5
    assert [int(f.mean()) for f in joined] == [10 * i for i in range(16)]
    alone = ExtendVideo(**{**COMMON, "num_frames": 9}, context_frames=5, join=False,
                        inputs=(SOURCE,)).finish(media, _result(made)).frames
    assert len(alone) == 4 and int(alone[0].mean()) == 120
