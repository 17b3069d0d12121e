"""The editing maths on their own: masks grown, feathered, inverted and fitted; reframing's
canvas; and a continuation joined to its clip without a jump or a colour shift."""

from __future__ import annotations

import numpy as np
import pytest

from worker.editing import join, masks


def _square_mask(size: int = 40, box: tuple[int, int, int, int] = (10, 10, 20, 20)
                 ) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    return mask


def test_soft_edges_and_compression_noise_below_mid_grey_are_not_marked():
    mask = np.array([[0, 30, 127], [128, 200, 255]], dtype=np.uint8)
    assert masks.marked(mask).tolist() == [[False, False, False], [True, True, True]]
    assert not masks.has_marks(np.full((4, 4), 100, np.uint8))


def test_change_repaints_the_marked_area_and_keep_everything_else():
    mask = _square_mask()
    change = masks.repaint_area(mask, "change", 40, 40, num_frames=3)
    keep = masks.repaint_area(mask, "keep", 40, 40, num_frames=3)
    assert change.shape == (3, 40, 40) and change.sum() == 3 * 100
    assert (keep == ~change).all()
    assert (change[0] == change[2]).all()  # a drawn mask stays fixed over the clip


def test_a_mask_drawn_at_the_source_size_is_fitted_to_the_job_size():
    area = masks.repaint_area(_square_mask(), "change", 80, 20, num_frames=1)
    assert area.shape == (1, 20, 80)
    assert area[0, 5:10, 20:40].all() and not area[0, :5].any()


def test_grow_widens_by_a_disc_and_a_negative_grow_shrinks():
    mask = masks.marked(_square_mask())
    grown = masks.grow(mask, 3)
    assert grown[10:20, 7].all() and not grown[10:20, 6].any()
    assert not grown[7, 7]  # a disc: the corner is rounded, not a square's
    assert masks.grow(mask, -2).sum() == 36


def test_feather_softens_the_edge_only():
    alpha = masks.feather(masks.marked(_square_mask(box=(5, 5, 35, 35))), 6)
    assert alpha[20, 20] == pytest.approx(1.0, abs=1e-3)
    assert alpha[0, 0] < 0.02
    assert 0.2 < alpha[20, 5] < 0.8  # the edge is half-way
    assert (masks.feather(masks.marked(_square_mask()), 0) == masks.marked(_square_mask())).all()


def test_a_mask_video_shorter_than_the_clip_is_refused():
    with pytest.raises(ValueError, match="2 frames; the clip has 5"):
        masks.repaint_area(np.zeros((2, 8, 8), np.uint8), "change", 8, 8, 5)


@pytest.mark.parametrize(("anchor", "left"), [("start", 0), ("centre", 35), ("end", 70)])
def test_reframe_places_the_source_where_asked_and_marks_the_rest(anchor, left):
    frames = np.full((2, 60, 60, 3), 200, dtype=np.uint8)
    canvas, area = masks.reframe_canvas(frames, 130, 60, anchor)
    assert canvas.shape == (2, 60, 130, 3) and area.shape == (2, 60, 130)
    assert (canvas[:, :, left:left + 60] == 200).all()
    assert not area[:, :, left:left + 60].any()
    assert area.sum() == 2 * 60 * 70
    assert (canvas[area] == masks.EMPTY_GREY).all()


def test_composite_keeps_the_source_exactly_outside_the_area():
    source = np.full((1, 4, 4, 3), 10, np.uint8)
    generated = np.full((1, 4, 4, 3), 250, np.uint8)
    alpha = np.zeros((1, 4, 4), np.float32)
    alpha[0, :2] = 1.0
    out = masks.composite(source, generated, alpha)
    assert (out[0, :2] == 250).all() and (out[0, 2:] == 10).all()


def _moving_scene(count: int, start: int = 0) -> np.ndarray:
    """A smooth scene: a gradient sliding one pixel a frame."""
    x = np.arange(96, dtype=np.float32)
    frames = [np.broadcast_to((120 + 60 * np.sin((x + start + i) / 9.0))[None, :, None],
                              (48, 96, 3)) for i in range(count)]
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def test_a_continuation_joins_without_a_jump_or_a_colour_shift():
    clip = _moving_scene(30)
    overlap = 8
    # The model redrew the last 8 frames and went on, but brighter and tinted.
    truth = _moving_scene(40, start=30 - overlap)
    generated = truth.astype(np.float32) * 1.2 + np.array([25.0, 0.0, -15.0])
    generated = np.clip(generated, 0, 255).astype(np.uint8)
    joined = join.join(clip, generated, overlap)
    assert len(joined) == 30 + 40 - overlap
    steps = join.frame_steps(joined)
    typical = float(np.median(join.frame_steps(clip)))
    # No step anywhere near the cut stands out from the clip's own motion...
    assert steps[20:40].max() <= 1.5 * typical + 1.0
    # ...whereas laying the raw continuation after the clip jumps at the cut.
    naive = np.concatenate([clip, generated[overlap:]])
    assert join.frame_steps(naive)[29] > 5 * typical
    # And the continuation's colours are the clip's.
    tail_means = joined[-10:].reshape(-1, 3).mean(axis=0)
    assert np.abs(tail_means - truth[-10:].reshape(-1, 3).mean(axis=0)).max() < 3.0


def test_joining_refuses_an_overlap_longer_than_a_clip():
    with pytest.raises(ValueError, match="overlap"):
        join.join(_moving_scene(3), _moving_scene(10), 5)
