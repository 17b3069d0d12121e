"""What this worker can take: installed presets that fit its GPU under the memory plan, and
the installed helper models that run jobs of their own (upscalers, soundtrack models)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from generation.lifecycle import Capacity
from worker.catalogue import CATALOGUE, HELPERS, HelperModel, Preset
from worker.catalogue.soundtrack import SOUNDTRACK_MODELS, SoundtrackModel
from worker.runtime import parallel
from worker.runtime.cache import PIPELINES
from worker.runtime.devices import select_device
from worker.runtime.memory import GpuMemory, MemoryProfile, plan_for, usable_gb


def current_capacity() -> Capacity:
    """Read at claim time, in the process that runs jobs (CUDA is never touched before fork)."""
    installed = [preset for preset in CATALOGUE.values() if preset.is_installed()]
    loaded = frozenset(PIPELINES.loaded_ids())
    device = select_device()
    group = parallel.current()
    gpus = group.size if group is not None else 1
    # Helper models that run jobs (an upscale) need one GPU and little of it.
    helpers: list[HelperModel | SoundtrackModel] = [
        helper for helper in HELPERS.values()
        if helper.purpose in JOB_PURPOSES and helper.is_installed()]
    # So do soundtrack models (Add sound): a small pipeline, on one GPU.
    helpers += [model for model in SOUNDTRACK_MODELS.values() if model.is_installed()]
    if group is not None and gpus > 1:
        # A group runs only what it can split over its GPUs.
        installed = [preset for preset in installed if preset.parallelism is not None
                     and gpus in preset.parallelism.gpu_counts]
        helpers = []
    if device.type != "cuda":
        ids = [preset.id for preset in installed] + [helper.id for helper in helpers]
        return Capacity(presets=frozenset(ids),
                        loaded=loaded, gpus=gpus)
    import torch

    total_gb = torch.cuda.get_device_properties(device).total_memory / 2**30
    capacity = capacity_on_gpu(installed, total_gb, loaded, gpus=gpus)
    fitting = {helper.id for helper in helpers if helper.min_vram_gb <= total_gb}
    return dataclasses.replace(capacity, presets=frozenset(capacity.presets or ()) | fitting)


# Helper purposes whose models run jobs of their own, claimed like presets.
JOB_PURPOSES = frozenset({"upscale"})


def capacity_on_gpu(installed: Iterable[Preset], total_gb: float,
                    loaded: frozenset[str] = frozenset(), *, gpus: int = 1) -> Capacity:
    """A preset whose smallest plan does not fit is not taken; one that fits only with
    sequential offload (many times slower) is taken only while no bigger worker is idle."""
    # The worker owns its GPU: what warm models hold can be given back for another model.
    gpu = GpuMemory(total_gb=total_gb, free_gb=total_gb)
    runnable, reluctant = set(), set()
    for preset in installed:
        plan = plan_for(preset, gpu)
        if plan.peak_gb > usable_gb(gpu):
            continue
        runnable.add(preset.id)
        if plan.profile == MemoryProfile.SEQUENTIAL:
            reluctant.add(preset.id)
    return Capacity(presets=frozenset(runnable), reluctant=frozenset(reluctant), loaded=loaded,
                    gpu_total_gb=total_gb, gpus=gpus)
