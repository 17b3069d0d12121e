"""The model catalogue: every model family (one module each: its presets, its random-weight
builder, its call adapter) and every preset, in the order people see them.

A leaf package: it imports nothing from Django, the web apps or worker.runtime, and nothing
heavy at import (torch, diffusers, transformers and numpy only inside builders and adapters),
so the web tier reads it to build its forms and the worker runs jobs with it.
"""

from __future__ import annotations

from . import (
    cogvideox,
    framepack,
    hunyuan15,
    kandinsky5,
    kandinsky6,
    ltx,
    ltx2,
    wan,
    wan22,
    wan22_a14b,
    wan_i2v,
    wan_vace,
)
from .base import (
    TASK_INPUTS,
    TASK_LABELS,
    TEXT_ONLY,
    Ability,
    Family,
    MemoryNeeds,
    Parallelism,
    Preset,
    Scale,
    Task,
)
from .building import build_pipeline
from .calls import CallAdapter, check_inputs
from .helpers import HELPERS, HelperModel, helper_for
from .install import MODELS_DIR_ENV, checkpoint_complete, hf_cache_dir, hf_cached_snapshot
from .request import (
    MAX_SEED,
    ErrorCode,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    JobCancelled,
    Keyframe,
    StepInfo,
)

FAMILIES: dict[str, Family] = {
    module.FAMILY.name: module.FAMILY
    for module in (wan, wan_i2v, wan_vace, wan22, wan22_a14b, ltx, ltx2, framepack, hunyuan15,
                   cogvideox, kandinsky5, kandinsky6)
}

CATALOGUE: dict[str, Preset] = {
    preset.id: preset for family in FAMILIES.values() for preset in family.presets
}

for _family in FAMILIES.values():
    for _preset in _family.presets:
        if _preset.family != _family.name:
            raise ValueError(f"preset {_preset.id} names family {_preset.family!r}, "
                             f"but the {_family.name} module holds it")


def get_preset(preset_id: str) -> Preset:
    """Look a preset up by id; KeyError names the known ids."""
    try:
        return CATALOGUE[preset_id]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"unknown preset {preset_id!r}; known presets: {known}") from None


# Everything an operator installs: pipeline presets and helper models (background removal for
# subjects; depth, pose and mask tracking for editing).
INSTALLABLE: dict[str, Preset | HelperModel] = {**CATALOGUE, **HELPERS}


def get_installable(model_id: str) -> Preset | HelperModel:
    """A preset or a helper model by id; KeyError names the known ids."""
    try:
        return INSTALLABLE[model_id]
    except KeyError:
        known = ", ".join(sorted(INSTALLABLE))
        raise KeyError(f"unknown preset {model_id!r}; known presets and models: {known}"
                       ) from None


def family_of(preset: Preset | str) -> Family:
    """The family a preset (or a preset id) belongs to: its builder and its call adapter."""
    if isinstance(preset, str):
        preset = get_preset(preset)
    return FAMILIES[preset.family]


__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "HELPERS",
    "INSTALLABLE",
    "MAX_SEED",
    "MODELS_DIR_ENV",
    "TASK_INPUTS",
    "TASK_LABELS",
    "TEXT_ONLY",
    "Ability",
    "CallAdapter",
    "ErrorCode",
    "Family",
    "GenerationError",
    "GenerationRequest",
    "GenerationResult",
    "HelperModel",
    "JobCancelled",
    "Keyframe",
    "MemoryNeeds",
    "Parallelism",
    "Preset",
    "Scale",
    "StepInfo",
    "Task",
    "build_pipeline",
    "check_inputs",
    "checkpoint_complete",
    "family_of",
    "get_installable",
    "get_preset",
    "helper_for",
    "hf_cache_dir",
    "hf_cached_snapshot",
]
