"""Control tracks on a small synthetic clip: shapes, determinism, edges where edges are, the
flow's direction, depth and pose through tiny checkpoints loaded by the production loader."""

from __future__ import annotations

import numpy as np
import pytest

from tests.editing.conftest import moving_square
from worker.catalogue import GenerationError
from worker.catalogue.helpers import HELPERS
from worker.editing.control import (
    CONTROL_KINDS,
    ControlError,
    draw_skeleton,
    make_control_track,
    people_boxes,
)


@pytest.mark.parametrize("kind", list(CONTROL_KINDS))
def test_each_kind_keeps_the_clip_shape_and_is_deterministic(kind, helpers):
    clip = moving_square()
    first = make_control_track(kind, clip, device="cpu")
    again = make_control_track(kind, clip, device="cpu")
    assert first.shape == clip.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)


def test_edges_are_on_the_square_border_and_nowhere_else():
    clip = moving_square()
    track = make_control_track("canny", clip)
    assert set(np.unique(track)) == {0, 255}
    edges = track[0, ..., 0] > 0
    assert edges[16:32, 7:10].any() and edges[16:32, 22:26].any()  # left and right sides
    assert not edges[:12].any() and not edges[36:].any()  # flat background
    assert not edges[20:28, 12:20].any()  # the square's flat inside


def test_greyscale_is_grey_in_all_three_channels():
    track = make_control_track("grey", moving_square())
    assert np.array_equal(track[..., 0], track[..., 1])
    assert np.array_equal(track[..., 1], track[..., 2])
    assert track[0, 24, 16, 0] > 150 > track[0, 2, 2, 0]


def test_flow_colours_the_moving_square_and_leaves_the_still_background_white():
    track = make_control_track("flow", moving_square())
    assert np.array_equal(track[0], track[1])  # the first frame shows the first step
    background = track[2, 2, 2]
    assert (background > 240).all()
    moving = track[2, 24, 20].astype(int)
    assert moving.min() < 200  # saturated: it moves
    # Moving right is red-orange on the colour wheel (as RAFT and VACE draw it).
    assert moving[0] > moving[2]


def test_depth_and_pose_use_the_installed_helpers(helpers):
    clip = moving_square()
    depth = make_control_track("depth", clip, device="cpu")
    assert np.array_equal(depth[..., 0], depth[..., 2])
    assert depth.min() == 0 and depth.max() == 255  # normalised over the clip
    pose = make_control_track("pose", clip, device="cpu")
    assert pose.shape == clip.shape
    # The tiny detector is made to see people: each frame has boxes inside the frame, so
    # ViTPose ran on every frame (its random keypoints may be too unsure to draw).
    boxes = people_boxes(clip, HELPERS["rtdetr-r50-people"], device="cpu")
    assert len(boxes) == len(clip) and all(boxes)
    assert all(x >= 0 and y >= 0 and x + w <= 64.5 and y + h <= 48.5
               for found in boxes for x, y, w, h in found)


def test_a_skeleton_is_drawn_in_openpose_colours_where_its_joints_are():
    canvas = np.zeros((96, 64, 3), np.uint8)
    keypoints = np.array([[32, 10], [30, 8], [34, 8], [28, 9], [36, 9], [24, 24], [40, 24],
                          [20, 40], [44, 40], [18, 55], [46, 55], [26, 56], [38, 56],
                          [26, 72], [38, 72], [26, 90], [38, 90]], dtype=float)
    scores = np.ones(17)
    scores[9] = 0.1  # an unsure left wrist is left out
    draw_skeleton(keypoints, scores, canvas)
    assert tuple(canvas[10, 32]) == (255, 0, 0)  # the nose: OpenPose's first colour
    assert canvas[24, 24].any() and canvas[90, 38].any()  # a shoulder and an ankle
    assert not canvas[55, 18].any()  # the unsure wrist
    assert not canvas[0:4, 0:8].any()  # background stays black


def test_a_missing_helper_is_a_clear_weights_error(models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")  # no demo helper stands in
    with pytest.raises(GenerationError) as error:
        make_control_track("depth", moving_square(), device="cpu")
    assert error.value.code == "weights_missing"
    assert HELPERS["depth-anything-v2-small"].label in error.value.message


def test_unknown_kind_and_bad_frames_are_refused():
    with pytest.raises(ControlError, match="Unknown control kind 'scribble'"):
        make_control_track("scribble", moving_square())
    with pytest.raises(ControlError, match=r"uint8 RGB frames \(F, H, W, 3\); got \(4, 8, 8\)"):
        make_control_track("canny", np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ControlError, match="uint8"):
        make_control_track("grey", moving_square().astype(np.float32))
