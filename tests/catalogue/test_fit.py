"""Fitting a start or end image to the job's size: crop (centred or a box), pad, stretch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from worker.catalogue import GenerationError
from worker.catalogue.media import fit_image


def _halves(width: int = 200, height: int = 100) -> Image.Image:
    """Left half red, right half blue; a green square in the top-left corner."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (255, 0, 0)
    array[:, width // 2 :] = (0, 0, 255)
    array[:20, :20] = (0, 255, 0)
    return Image.fromarray(array)


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
@pytest.mark.parametrize("size", [(64, 64), (96, 32), (32, 96), (200, 100), (17, 13)])
def test_every_mode_gives_exactly_the_asked_size(mode, size):
    assert fit_image(_halves(), *size, mode).size == size


def test_pad_letterboxes_on_black_and_keeps_the_whole_image():
    out = np.asarray(fit_image(_halves(200, 100), 100, 100, "pad"))
    # 200 × 100 into 100 × 100: scaled to 100 × 50, 25 rows of black above and below.
    assert (out[:25] == 0).all() and (out[75:] == 0).all()
    assert out[50, 10].tolist() == [255, 0, 0] and out[50, 90].tolist() == [0, 0, 255]
    tall = np.asarray(fit_image(_halves(100, 200), 100, 100, "pad"))
    assert (tall[:, :25] == 0).all() and (tall[:, 75:] == 0).all()


def test_centred_crop_cuts_the_sides_of_a_wider_image():
    out = np.asarray(fit_image(_halves(200, 100), 50, 50, "crop"))
    # The centred 100 × 100 region: the green corner is gone, red then blue remain.
    assert not (out == [0, 255, 0]).all(axis=2).any()
    assert out[25, 5].tolist() == [255, 0, 0] and out[25, 45].tolist() == [0, 0, 255]


def test_a_crop_box_is_respected():
    # The box holds only the green corner: the whole output is green.
    out = np.asarray(fit_image(_halves(), 32, 32, "crop", (0, 0, 20, 20)))
    assert (out == [0, 255, 0]).all()
    # A box in the blue half only.
    blue = np.asarray(fit_image(_halves(), 40, 20, "crop", (120, 30, 200, 70)))
    assert (blue == [0, 0, 255]).all()


def test_a_box_of_another_aspect_is_centre_cut_not_stretched():
    out = fit_image(_halves(), 20, 20, "crop", (0, 0, 200, 100))
    assert out.size == (20, 20)
    assert np.asarray(out)[10, 1].tolist() == [255, 0, 0]


def test_stretch_keeps_everything_and_distorts():
    out = np.asarray(fit_image(_halves(200, 100), 100, 100, "stretch"))
    assert out[0, 0].tolist() == [0, 255, 0]  # the corner survives
    assert out[50, 10].tolist() == [255, 0, 0] and out[50, 90].tolist() == [0, 0, 255]


@pytest.mark.parametrize("box", [(0, 0, 201, 100), (-1, 0, 10, 10), (50, 50, 40, 60)])
def test_a_box_outside_the_image_is_refused(box):
    with pytest.raises(GenerationError, match="crop box"):
        fit_image(_halves(), 32, 32, "crop", box)


def test_an_unknown_mode_is_refused():
    with pytest.raises(GenerationError, match="crop, pad, stretch"):
        fit_image(_halves(), 32, 32, "zoom")
