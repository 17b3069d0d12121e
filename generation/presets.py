"""The web tier's view of the model catalogue: which presets a user may pick, and for what."""

from __future__ import annotations

from worker.catalogue import (
    CATALOGUE,
    HELPERS,
    MAX_SEED,
    TASK_LABELS,
    Ability,
    GenerationRequest,
    Preset,
    Task,
    get_preset,
)
from worker.catalogue.soundtrack import SOUNDTRACK_MODELS

__all__ = ["MAX_SEED", "TASK_LABELS", "Ability", "GenerationRequest", "Preset", "Task",
           "get_preset", "preset_label", "presets_for"]


def presets_for(task: Task | str) -> list[Preset]:
    """Installed presets that can run `task`, in catalogue order; Preview variants are reached
    through the speed choice, never offered as models."""
    return [
        preset for preset in CATALOGUE.values()
        if preset.can(task) and preset.preview_of is None and preset.is_installed()
    ]


def preset_label(preset_id: str) -> str:
    """A preset's label, or a helper model's (the upscaler of an upscale job, the soundtrack
    model of an Add sound job)."""
    model = (CATALOGUE.get(preset_id) or HELPERS.get(preset_id)
             or SOUNDTRACK_MODELS.get(preset_id))
    return model.label if model else preset_id
