"""Speed modes as data: what each mode does to a job, what it costs, and how long it takes.

- Quality (the default): the preset as it is, with the fastest exact attention kernel and the
  transformer's repeated blocks compiled (worker/runtime/speed.py); optionally fp8 linears.
- Balanced: step caching. MagCache where its authors published a calibration (magcache.py),
  FirstBlockCache for every other family (diffusers 0.42.1 registers the blocks of all of
  them, so TaylorSeer is never needed here).
- Preview: the preset's step-distilled variant (a preset with `preview_of`), with its own steps,
  guidance and scheduler.

No torch: the web tier reads this to offer modes and show their ETA.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .base import Preset
from .magcache import computed_steps, conditional_ratios, interpolated


class SpeedMode(StrEnum):
    QUALITY = "quality"
    BALANCED = "balanced"
    PREVIEW = "preview"


SPEED_LABELS: dict[SpeedMode, str] = {
    SpeedMode.QUALITY: "Quality",
    SpeedMode.BALANCED: "Balanced",
    SpeedMode.PREVIEW: "Preview",
}
SPEED_HELP: dict[SpeedMode, str] = {
    SpeedMode.QUALITY: "The model's full output, with compiled kernels.",
    SpeedMode.BALANCED: "Reuses steps that change little; close to Quality, about twice as fast.",
    SpeedMode.PREVIEW: "A few-step distilled model: a quick draft to render in quality later.",
}

# One transformer forward under each mode, against plain diffusers, measured on an H200 for
# Wan 2.1 1.3B at 832×480×81 (DESIGN.md, 2026-11-27): cuDNN attention with the repeated blocks
# compiled, and with fp8 linears (torchao, per row) on top.
QUALITY_FACTOR = 0.87
FP8_FACTOR = 0.81
# `MemoryNeeds.step_s` is both passes of classifier-free guidance; at guidance <= 1 the
# pipelines run one.
NO_CFG_FACTOR = 0.5
# Compute capability from which GPUs have fp8 tensor cores (Ada, Hopper, Blackwell).
FP8_MIN_CAPABILITY = (8, 9)
# GPU names the web tier recognises as fp8-capable when it decides whether to offer fp8;
# the worker checks the real compute capability.
FP8_GPU_NAMES = ("H100", "H200", "H20", "H800", "GH200", "B100", "B200", "GB200", "L40", "L4",
                 "RTX 40", "RTX 50", "RTX 6000 Ada", "RTX PRO")


@dataclass(frozen=True)
class MagCacheSettings:
    """How far MagCache may go: the accumulated error it tolerates, the most steps it skips in
    a row, and the share of first steps it always computes. 0.24 and 4 skip 62% of Wan 2.1
    1.3B's 50 steps (`computed_steps`), against 50% at the authors' default (0.12, 2): what
    Balanced must skip to take less than half the time."""

    threshold: float = 0.24
    max_skip: int = 4
    retention: float = 0.2


MAGCACHE = MagCacheSettings()
# FirstBlockCache: the relative change of the first block's output under which the rest of the
# step is reused. Without a calibration, its share of computed steps is a guess until
# bench/speed.py measures it.
FIRST_BLOCK_THRESHOLD = 0.08
FIRST_BLOCK_COMPUTED = 0.55


@dataclass(frozen=True)
class StepCache:
    """The step cache Balanced puts on a preset's transformer."""

    kind: Literal["magcache", "first_block"]
    threshold: float
    ratios: tuple[float, ...] = ()  # MagCache's calibration, one ratio per calibrated step
    max_skip: int = 0
    retention: float = 0.0

    def computed_fraction(self, steps: int) -> float:
        """The share of steps predicted to run the whole transformer."""
        if self.kind == "first_block" or not self.ratios:
            return FIRST_BLOCK_COMPUTED
        done = computed_steps(interpolated(self.ratios, steps), threshold=self.threshold,
                              max_skip=self.max_skip, retention=self.retention)
        return sum(done) / len(done)


def step_cache_for(preset: Preset) -> StepCache:
    """MagCache with the published calibration of the preset (or of the preset it is a
    variant of), else FirstBlockCache."""
    ratios = conditional_ratios(preset.id)
    if ratios is None and preset.preview_of is not None:
        ratios = conditional_ratios(preset.preview_of)
    if ratios is None:
        return StepCache(kind="first_block", threshold=FIRST_BLOCK_THRESHOLD)
    return StepCache(kind="magcache", threshold=MAGCACHE.threshold, ratios=ratios,
                     max_skip=MAGCACHE.max_skip, retention=MAGCACHE.retention)


def preview_variant(preset: Preset) -> Preset | None:
    """The step-distilled variant of a preset (installed or not), if the catalogue has one."""
    from . import CATALOGUE  # the catalogue imports its modules first

    return next((p for p in CATALOGUE.values() if p.preview_of == preset.id), None)


def mode_error(preset: Preset, mode: str, *, fp8: bool = False) -> str | None:
    """Why this preset cannot run in this mode here, in the user's terms; None when it can."""
    try:
        chosen = SpeedMode(mode)
    except ValueError:
        return f"Pick a speed: {', '.join(SPEED_LABELS.values())}."
    if chosen == SpeedMode.PREVIEW:
        variant = preview_variant(preset)
        if variant is None:
            return f"{preset.label} has no Preview model; pick Quality or Balanced."
        if not variant.is_installed():
            return (f"The Preview model for {preset.label} is not installed; an admin adds it "
                    f"with `python manage.py fetch_model {variant.id}`.")
    if fp8 and chosen == SpeedMode.PREVIEW:
        return "fp8 goes with Quality or Balanced, not Preview."
    return None


@dataclass(frozen=True)
class ModeRun:
    """What a job runs in a mode: the preset loaded, its steps and guidance."""

    preset: Preset
    steps: int
    guidance: float


def mode_run(preset: Preset, mode: str, steps: int, guidance: float) -> ModeRun:
    """Preview runs the distilled variant at its own steps and guidance; others as asked."""
    if SpeedMode(mode) == SpeedMode.PREVIEW:
        variant = preview_variant(preset)
        if variant is not None:
            return ModeRun(variant, variant.default_steps, variant.default_guidance)
    return ModeRun(preset, steps, guidance)


def step_factor(preset: Preset, mode: str, steps: int, *, fp8: bool = False) -> float:
    """One step's time in this mode against plain diffusers' (before the guidance factor)."""
    chosen = SpeedMode(mode)
    kernels = FP8_FACTOR if fp8 else QUALITY_FACTOR
    if chosen == SpeedMode.BALANCED:
        # Balanced runs without compile (its hooks sit on the blocks compile would take).
        return step_cache_for(preset).computed_fraction(steps)
    if chosen == SpeedMode.PREVIEW:
        return 1.0
    return kernels


def eta_s(preset: Preset, mode: str, steps: int, guidance: float, *, fp8: bool = False
          ) -> float:
    """Predicted denoising time of a job: the preset's measured step time (an H200, all on the
    GPU) times the steps the mode runs times the mode's factor."""
    run = mode_run(preset, mode, steps, guidance)
    cfg = NO_CFG_FACTOR if run.guidance <= 1.0 else 1.0
    factor = step_factor(run.preset, mode, run.steps, fp8=fp8)
    return run.preset.memory.step_s * run.steps * factor * cfg


def fp8_capable(capability: tuple[int, int]) -> bool:
    return capability >= FP8_MIN_CAPABILITY


def gpu_name_has_fp8(name: str) -> bool:
    return any(part.lower() in name.lower() for part in FP8_GPU_NAMES)
