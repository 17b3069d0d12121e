"""Tiny random checkpoints of the real helper architectures, saved in the Hub's layout into
the test's models folder, and small synthetic clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from worker.catalogue.helpers import HELPERS, save_helper


@pytest.fixture
def helpers(models: Path) -> Path:
    for helper_id in HELPERS:
        save_helper(helper_id, models / helper_id)
    return models


def moving_square(frames: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """A bright square on a dark background moving right by 3 pixels a frame."""
    clip = np.full((frames, height, width, 3), 20, dtype=np.uint8)
    for index in range(frames):
        left = 8 + 3 * index
        clip[index, 16:32, left:left + 16] = (230, 200, 40)
    return clip
