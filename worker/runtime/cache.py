"""Loading pipelines and keeping them warm between jobs.

Nothing here touches CUDA at import time: the Celery worker forks after importing this module,
and a CUDA context created before the fork is unusable in the child.
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from worker.catalogue import ErrorCode, GenerationError, build_pipeline, get_preset

from . import speed
from .devices import select_device
from .loras import expert_denoisers, load_into
from .memory import (
    Footprint,
    GpuMemory,
    MemoryProfile,
    Plan,
    apply_plan,
    footprint,
    gpu_memory,
    plan_for,
)
from .process_group import parallelize

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

logger = logging.getLogger("framecraft.worker")



@dataclass
class LoadedPipeline:
    """A ready pipeline and where it runs."""

    pipeline: DiffusionPipeline
    device: str
    memory_profile: str
    load_s: float = 0.0
    footprint: Footprint = field(default_factory=lambda: Footprint(0, 0))
    variants: dict[str, Any] = field(default_factory=dict, repr=False)
    # On a GPU: the memory plan it was placed with, and the GPU memory that plan was made for.
    plan: Plan | None = None
    gpu: GpuMemory | None = None
    speed: speed.SpeedState = field(default_factory=speed.SpeedState)

    def for_task(self, class_name: str,
                 components: Callable[[str, Any], dict[str, Any]] | None = None) -> Any:
        """The pipeline of `class_name` on these same components (built once, then kept);
        `components(class_name, pipeline)` names any it needs in place of the loaded ones."""
        if type(self.pipeline).__name__ == class_name:
            return self.pipeline
        if class_name not in self.variants:
            import diffusers

            own = components(class_name, self.pipeline) if components else {}
            variant = sibling(getattr(diffusers, class_name), self.pipeline, own)
            variant.set_progress_bar_config(disable=True)
            self.variants[class_name] = variant
        return self.variants[class_name]


def sibling(pipeline_class: Any, pipeline: Any, own: dict[str, Any]) -> Any:
    """`pipeline_class` on `pipeline`'s components (and settings), with `own` in place of any.

    Not `from_pipe`: it casts every component to the dtype it is given, float32 by default,
    which on a GPU turned a bf16 LTX pipeline's shared components to fp32 (a keyframe job
    peaked at 36.8 GB against the 18.6 GB planned; a VAE left resident under group offload
    then met bf16 latents and failed), and any single dtype would undo fp32_components."""
    settings = {k: v for k, v in pipeline.config.items() if not k.startswith("_")}
    shared = {**settings, **pipeline.components, **own}  # e.g. Wan 2.2's expand_timesteps
    accepted = inspect.signature(pipeline_class.__init__).parameters
    return pipeline_class(**{name: value for name, value in shared.items() if name in accepted})


def free_memory() -> None:
    """Collect garbage and hand cached GPU blocks back to the driver.

    On the CPU reference counting already freed the job's tensors, and a full collection
    costs a tenth of a second per job, so it runs only where there is GPU memory to return.
    """
    # is_initialized, not is_available: freeing memory must never be what creates a context.
    if torch.cuda.is_initialized():
        gc.collect()
        torch.cuda.empty_cache()


def weights_missing(preset_id: str, label: str, *, corrupt: bool = False) -> GenerationError:
    """The error for a preset whose weights are not on this worker, with the admin's fix."""
    state = "are damaged (unreadable or incomplete files)" if corrupt else "are not installed"
    fix = f"python manage.py fetch_model {preset_id}"
    if corrupt:
        fix = f"python manage.py fetch_model {preset_id} --remove` and then `{fix}"
    return GenerationError(
        ErrorCode.WEIGHTS_MISSING,
        f"The weights for {label} ({preset_id}) {state} on this worker. "
        f"An admin installs them with `{fix}` or from the Models page of the admin site.",
    )


def load_pipeline(key: str) -> LoadedPipeline:
    """Build or load a preset's pipeline from local files and place it on this worker's device.

    On a GPU the placement is the memory plan for this GPU's free memory (memory.plan_for).
    A Preview variant gets its LoRA fused and its scheduler; a key ending in `+fp8` gets fp8
    linears (speed.cache_key).
    """
    started = time.perf_counter()
    preset_id, fp8 = speed.split_key(key)
    preset = get_preset(preset_id)
    device = select_device()
    if preset.builtin:
        if not preset.is_installed():
            raise GenerationError(
                ErrorCode.WEIGHTS_MISSING,
                f"{preset.label} ({preset.id}) is a demo model, and demo models are turned off "
                "on this worker (FRAMECRAFT_DEMO_MODELS).")
        # Built-in presets have no weights to load: their family's builder makes them, at toy
        # size with seeded random weights, on the CPU (placed below like loaded ones).
        pipeline = build_pipeline(preset.id, "tiny", seed=0)
    else:
        location = preset.installed_path()
        if location is None:
            raise weights_missing(preset.id, preset.label)
        pipeline = _from_folder(preset.pipeline_class, location, device, preset.fp32_components)
        if pipeline is None:
            raise weights_missing(preset.id, preset.label, corrupt=True)
    _make_variant(pipeline, preset)
    pipeline.set_progress_bar_config(disable=True)
    profile = MemoryProfile.CPU
    plan = gpu = None
    if device.type == "cuda":
        gpu = gpu_memory(device)
        plan = plan_for(preset, gpu)
        logger.info("placing %s: %s", preset.id, plan.describe())
        # SigLIP's pooling head calls its weights directly, out of reach of leaf hooks.
        apply_plan(pipeline, plan, device, exclude_leaf=("image_encoder",))
        profile = plan.profile
    else:
        pipeline.to(device)
    split = parallelize(pipeline, preset)
    if fp8 and (problem := speed.fp8_error(device, plan)) is not None:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, problem)
    state = speed.prepare(pipeline, preset, device, fp8=fp8, split=split)
    return LoadedPipeline(
        pipeline=pipeline,
        device=str(device),
        memory_profile=profile,
        load_s=time.perf_counter() - started,
        footprint=footprint(pipeline),
        plan=plan,
        gpu=gpu,
        speed=state,
    )


def _make_variant(pipeline: Any, preset: Any) -> None:
    """A Preview variant's LoRAs, each fused at its scale into the denoisers of the expert it
    names, and its scheduler (before any placement, so offloaded copies hold the fused
    weights)."""
    if preset.loras:
        paths = preset.lora_paths()
        if paths is None:
            raise weights_missing(preset.id, preset.label)
        for index, (lora, path) in enumerate(zip(preset.loras, paths, strict=True)):
            name = f"preview_{index}"
            try:
                for component in expert_denoisers(pipeline, lora.expert):
                    pipeline.load_lora_weights(str(path), adapter_name=name,
                                               **load_into(component))
                    pipeline.fuse_lora(components=[component], lora_scale=lora.scale,
                                       adapter_names=[name])
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                logger.warning("could not load the LoRA of %s from %s: %s", preset.id, path,
                               exc)
                raise weights_missing(preset.id, preset.label, corrupt=True) from None
        pipeline.unload_lora_weights()
    if preset.scheduler_class is not None:
        import diffusers

        scheduler_class = getattr(diffusers, preset.scheduler_class)
        pipeline.scheduler = scheduler_class.from_config(dict(preset.scheduler_config))


def _from_folder(
    class_name: str, location: Any, device: torch.device, fp32_components: tuple[str, ...]
) -> DiffusionPipeline | None:
    """The pipeline from a local folder, or None when its files cannot be read as weights."""
    import diffusers

    pipeline_class = getattr(diffusers, class_name)
    dtype: Any = torch.float32
    if device.type == "cuda":
        dtype = {"default": torch.bfloat16}
        dtype.update({name: torch.float32 for name in fp32_components})
    logger.info("loading %s from %s", class_name, location)
    try:
        return pipeline_class.from_pretrained(location, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        # Files vanished, were truncated or are not what their names say.
        logger.warning("could not load %s from %s: %s", class_name, location, exc)
        return None


def estimate_footprint(key: str) -> Footprint:
    """What loading a preset will hold, before loading it: its planned GPU peak on this
    worker's GPU (nothing on a CPU worker) and all its weights in host memory."""
    preset = get_preset(speed.split_key(key)[0])
    weights = int(preset.memory.weights_gb * 2**30)
    device = select_device()
    if device.type != "cuda":
        return Footprint(gpu_bytes=0, host_bytes=weights)
    total = torch.cuda.get_device_properties(device).total_memory / 2**30
    plan = plan_for(preset, GpuMemory(total_gb=total, free_gb=total))
    return Footprint(gpu_bytes=int(plan.peak_gb * 2**30), host_bytes=weights)


def default_budgets() -> Footprint:
    """Memory the cache may fill: the GPU's (when there is one) and 80% of the host's RAM."""
    try:
        host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        host = 2**40
    gpu = 0
    device = select_device()
    if device.type == "cuda":
        gpu = torch.cuda.get_device_properties(device).total_memory
    return Footprint(gpu_bytes=gpu, host_bytes=int(host * 0.8))


class PipelineCache:
    """Loaded pipelines by preset id, bounded by entries and by GPU and host memory.

    Before a load, least recently used pipelines are evicted until the new one's estimated
    footprint fits beside the rest; eviction removes offload hooks and frees the memory.
    """

    def __init__(
        self,
        loader: Callable[[str], LoadedPipeline] = load_pipeline,
        max_entries: int = 4,
        *,
        budgets: Footprint | None = None,
        estimate: Callable[[str], Footprint] | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.loader = loader
        self.max_entries = max_entries
        self.loads = 0
        self._budgets = budgets
        self._estimate = estimate
        self._entries: OrderedDict[str, LoadedPipeline] = OrderedDict()
        self._lock = threading.RLock()

    @property
    def budgets(self) -> Footprint:
        # Read at first use, in the worker's child process: never at import or fork.
        if self._budgets is None:
            self._budgets = default_budgets()
        return self._budgets

    def get(self, preset_id: str) -> DiffusionPipeline:
        """The preset's pipeline, loading it on first use."""
        return self.get_loaded(preset_id).pipeline

    def get_loaded(self, preset_id: str) -> LoadedPipeline:
        """The preset's pipeline with its device and memory profile, loading it on first use."""
        with self._lock:
            entry = self._entries.get(preset_id)
            if entry is not None:
                self._entries.move_to_end(preset_id)
                return entry
            # Evict before loading: two big models may not fit side by side.
            self._make_room(self._estimated(preset_id))
            logger.info("loading preset %s", preset_id)
            entry = self.loader(preset_id)
            self.loads += 1
            self._entries[preset_id] = entry
            logger.info(
                "loaded preset %s on %s (%s) in %.1fs",
                preset_id,
                entry.device,
                entry.memory_profile,
                entry.load_s,
            )
            return entry

    def held(self) -> Footprint:
        """What the cached pipelines hold now."""
        entries = list(self._entries.values())
        return Footprint(
            gpu_bytes=sum(entry.footprint.gpu_bytes for entry in entries),
            host_bytes=sum(entry.footprint.host_bytes for entry in entries),
        )

    def _estimated(self, preset_id: str) -> Footprint:
        if self._estimate is not None:
            return self._estimate(preset_id)
        try:
            return estimate_footprint(preset_id)
        except KeyError:
            return Footprint(0, 0)

    def _make_room(self, wanted: Footprint) -> None:
        budgets = self.budgets
        while self._entries:
            held = self.held()
            fits = (
                len(self._entries) < self.max_entries
                and held.gpu_bytes + wanted.gpu_bytes <= budgets.gpu_bytes
                and held.host_bytes + wanted.host_bytes <= budgets.host_bytes
            )
            if fits:
                return
            self._evict_oldest()

    def __contains__(self, preset_id: object) -> bool:
        return preset_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def loaded_ids(self) -> list[str]:
        """Preset ids held now, least recently used first."""
        return list(self._entries)

    def clear(self) -> None:
        """Drop every pipeline and free its memory."""
        with self._lock:
            while self._entries:
                self._evict_oldest()

    def _evict_oldest(self) -> None:
        preset_id, entry = self._entries.popitem(last=False)
        logger.info("evicting preset %s", preset_id)
        # Offload hooks keep references to the modules; remove them so the weights can go.
        for pipeline in (entry.pipeline, *entry.variants.values()):
            remove_hooks = getattr(pipeline, "remove_all_hooks", None)
            if callable(remove_hooks):
                remove_hooks()
        entry.variants.clear()
        del entry
        free_memory()


PIPELINES = PipelineCache()
