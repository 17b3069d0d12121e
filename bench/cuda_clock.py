"""What every GPU benchmark here times with: wait for the GPU, start a peak afresh, read it.

Each is a no-op (or 0) without CUDA, so a benchmark's CPU dry run goes through the same code.
"""

from __future__ import annotations

import gc

import torch


def sync() -> None:
    """Wait for queued GPU work, so a wall-clock reading covers it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_memory() -> None:
    """Free what the last run left and start the peak counter afresh."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def measured_peak_gb() -> float:
    """The GPU memory peak since the last reset, in GiB."""
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
