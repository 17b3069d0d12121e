"""Mask tracking with a tiny random SAM 2 video checkpoint, saved and loaded through the
production loader: shapes, a correction click, and clicks that cannot be."""

from __future__ import annotations

import numpy as np
import pytest

from tests.editing.conftest import moving_square
from worker.editing.tracking import TrackingError, track_mask


def test_a_click_becomes_a_mask_on_every_frame(helpers):
    clip = moving_square(frames=5)
    masks = track_mask(clip, [(0, 20, 24, True)], device="cpu")
    assert masks.shape == (5, 48, 64) and masks.dtype == bool
    assert masks.any(axis=(1, 2)).all()
    assert np.array_equal(masks, track_mask(clip, [(0, 20, 24, True)], device="cpu"))


def test_a_correction_on_a_later_frame_changes_that_frame(helpers):
    clip = moving_square(frames=5)
    plain = track_mask(clip, [(0, 20, 24, True)], device="cpu")
    corrected = track_mask(clip, [(0, 20, 24, True), (3, 5, 5, False)], device="cpu")
    assert not np.array_equal(plain[3], corrected[3])
    assert np.array_equal(plain[0], corrected[0])  # before the correction: as it was


def test_a_first_click_on_a_later_frame_is_tracked_back_to_the_start(helpers):
    masks = track_mask(moving_square(frames=4), [(2, 30, 24, True)], device="cpu")
    assert masks[0].any() and masks[3].any()


@pytest.mark.parametrize(("clicks", "message"), [
    ([], "Click on what the mask should follow."),
    ([(0, 64, 10, True)], r"Click 1 at \(64, 10\) is outside the 64 × 48 frame."),
    ([(0, 10, 10, True), (0, 10, -1, True)], r"Click 2 at \(10, -1\) is outside"),
    ([(9, 10, 10, True)], "Click 1 is on frame 9; the clip has frames 0 to 4."),
    ([(0, 10, 10, False)], "Click at least once on the subject itself"),
    ([("a", 1, 1)], r"Click 1 is not \(frame, x, y, positive\)."),
])
def test_clicks_that_cannot_be_are_refused_before_any_model_loads(models, clicks, message):
    # No helper is installed: the clicks are checked first.
    with pytest.raises(TrackingError, match=message):
        track_mask(moving_square(frames=5), clicks, device="cpu")
