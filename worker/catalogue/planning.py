"""How many GPUs of a host a job should run on, and how long it should take there.

Pure functions of a preset's data (`Preset.parallelism`, `MemoryNeeds.step_s`): the web tier
stores the count on each job at submit, claims match it against each worker's GPU count, and
the studio's ETA uses the time.
"""

from __future__ import annotations

from .base import Preset


def gpus_for(preset: Preset, width: int, height: int, frames: int) -> int:
    """The most GPUs, among the group sizes the preset scales to, that each keep enough of the
    job's tokens to pay for the exchanges between them; 1 when none does."""
    parallelism = preset.parallelism
    if parallelism is None:
        return 1
    tokens = parallelism.tokens(width, height, frames)
    paying = [count for count in parallelism.gpu_counts
              if tokens // count >= parallelism.min_tokens_per_gpu]
    return max(paying, default=1)


def speedup(preset: Preset, gpus: int) -> float:
    """How much faster a job of a size that pays runs on `gpus` GPUs than on one."""
    if gpus <= 1 or preset.parallelism is None:
        return 1.0
    return gpus * preset.parallelism.efficiency.get(gpus, 0.5)


def size_share(preset: Preset, width: int, height: int, frames: int) -> float:
    """A job's share of the default size's token count: what a step costs relative to the
    measured `step_s`."""
    return (width * height * frames) / (
        preset.default_width * preset.default_height * preset.default_frames)


def estimated_s(preset: Preset, width: int, height: int, frames: int, steps: int,
                gpus: int = 1) -> float:
    """Denoising time of a job on `gpus` GPUs of the class its `step_s` was measured on: a step
    at the default size, scaled by the job's share of the default token count."""
    return steps * preset.memory.step_s * size_share(preset, width, height, frames) / speedup(
        preset, gpus)
