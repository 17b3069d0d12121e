"""Which device this process runs its models on: chosen at job time, so a rank of a
multi-GPU group (worker.runtime.process_group) places its pipelines on its own GPU."""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "FRAMECRAFT_DEVICE"


def select_device() -> torch.device:
    """`$FRAMECRAFT_DEVICE` if set, else CUDA when available, else CPU. Call at job time only."""
    if wanted := os.environ.get(DEVICE_ENV):
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
