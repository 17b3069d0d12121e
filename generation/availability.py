"""Which of the studio's tasks can run here, and what each one that cannot is missing.

One table maps every task a person can pick (in the studio, the edit studio and on a video's
page) to the presets that run it. The forms offer the installed ones; the pickers grey out a
task that has none and name the model it needs, so that nobody uploads, crops or draws before
learning that the job cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generation.presets import Ability, Preset, Task
from worker.catalogue import CATALOGUE, helper_for
from worker.catalogue.helpers import Purpose


def _takes_references(preset: Preset) -> bool:
    return preset.supports(Ability.REFERENCE)


def _reframes(preset: Preset) -> bool:
    # Reframing changes a video's shape: only a model offering several shapes can.
    return len({width / height for width, height in preset.sizes}) > 1


# A studio task: the catalogue task it runs as, and what else a preset needs for it.
TASK_RULES: dict[str, tuple[Task, Callable[[Preset], bool] | None]] = {
    "t2v": (Task.T2V, None),
    "i2v": (Task.I2V, None),
    "personalize": (Task.PERSONALIZE, None),
    "swap": (Task.EDIT, _takes_references),
    "control": (Task.CONTROL, None),
    "v2v": (Task.V2V, None),
    "edit": (Task.EDIT, None),
    "reframe": (Task.EDIT, _reframes),
    "extend": (Task.EXTEND, None),
}


def _candidates(task: str) -> list[Preset]:
    """Every preset that could run the task, installed or not (Preview variants are reached
    through the speed choice, never offered as models)."""
    base, extra = TASK_RULES[task]
    return [preset for preset in CATALOGUE.values()
            if preset.can(base) and preset.preview_of is None
            and (extra is None or extra(preset))]


def installed_presets(task: str) -> list[Preset]:
    """The installed presets that run a studio task, in catalogue order."""
    return [preset for preset in _candidates(task) if preset.is_installed()]


@dataclass(frozen=True)
class TaskOffer:
    """One choice of a task picker: whether it can run, and if not, the model it needs."""

    value: str
    label: str
    available: bool
    needs: Preset | None  # the first model that would run it, for the "needs …" line

    @property
    def reason(self) -> str:
        if self.available:
            return ""
        if self.needs is None:
            return "No model in the catalogue does this."
        return f"Needs {self.needs.label}, which is not installed."


def offer(value: str, label: str) -> TaskOffer:
    """The picker entry for one studio task."""
    candidates = _candidates(value)
    available = any(preset.is_installed() for preset in candidates)
    # Name a real model rather than a demo one: that is what an admin would install.
    needs = next((p for p in candidates if not p.builtin), candidates[0] if candidates else None)
    return TaskOffer(value, label, available, None if available else needs)


def offers(choices: list[tuple[str, str]]) -> list[TaskOffer]:
    """The picker entries for (value, label) task choices, in their order."""
    return [offer(value, label) for value, label in choices]


def can_run(task: str) -> bool:
    """Whether any installed preset runs the studio task."""
    return bool(installed_presets(task))


# What a video's page offers to do with it, and the studio tasks each needs.
VIDEO_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "edit": ("Edit", ("v2v", "edit", "reframe", "extend")),
    "extend": ("Extend", ("extend",)),
    "control": ("Transfer its motion", ("control",)),
    "i2v": ("Continue from the last frame or animate a frame", ("i2v",)),
}


# What a video's page offers that a helper model does (no preset), and the helper's purpose.
HELPER_ACTIONS: dict[str, tuple[str, Purpose]] = {
    "upscale": ("Upscale", "upscale"),
}


@dataclass(frozen=True)
class VideoActions:
    """Which of a video page's actions a model here can do; the others are named, not shown."""

    can: dict[str, bool]

    @property
    def missing(self) -> list[str]:
        labels = {key: label for key, (label, _) in {**VIDEO_ACTIONS, **HELPER_ACTIONS}.items()}
        return [labels[key] for key, possible in self.can.items() if not possible]


def video_actions() -> VideoActions:
    can = {key: any(can_run(task) for task in tasks) for key, (_, tasks) in VIDEO_ACTIONS.items()}
    for key, (_, purpose) in HELPER_ACTIONS.items():
        can[key] = helper_for(purpose).is_installed()
    return VideoActions(can)
