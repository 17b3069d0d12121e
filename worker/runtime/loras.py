"""Applying a job's LoRAs to a warm pipeline without reloading it, and without recompiling a
compiled transformer.

Each pipeline holds MAX_LORAS_PER_JOB adapters in fixed slots, all made (the unused ones empty)
through diffusers' `load_lora_weights` when its first LoRA job comes, so the transformer's
structure is settled from then on. A job's LoRAs go into slots 0, 1, …; a LoRA already in its
slot at the same strength costs nothing, another one is hot-swapped in (`hotswap=True`: the new
matrices are copied into the slot's tensors in place), and `set_adapter` activates the job's
slots. Swapping keeps every tensor's shape and every Python
value the compiled code depends on unchanged, so torch.compile (e.g. diffusers'
`compile_repeated_blocks`) reuses its graphs:

- every LoRA is padded with zeros to the slot's rank (at least `FRAMECRAFT_LORA_SLOT_RANK`), and
  to the slot's layers (a LoRA that changes fewer layers gets zero matrices for the others);
- the strength and the file's alpha/rank factor are multiplied into the up matrix, so each
  adapter's PEFT scaling stays 1.0 (diffusers' `set_adapters(weights=…)` would write a new Python
  float into every layer, and a compiled graph guards on it);
- a job without LoRAs turns the adapters off (`disable_adapters`): every layer then returns its
  base layer's output unchanged, bit for bit.

Only a LoRA of higher rank than its slot, or one that changes layers its slot lacks, makes the
slot be rebuilt (a recompile where compiled; logged).

A pipeline of two experts (Wan 2.2 A14B: `transformer` for high noise, `transformer_2` for low
noise) has slots on each; a LoRA goes into the experts its `expert` names (both by default),
so a job may run a high-noise LoRA, a low-noise one, or one on both.
"""

from __future__ import annotations

import logging
import os
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from worker.catalogue import ErrorCode, GenerationError
from worker.catalogue.lora_targets import linear_layers
from worker.catalogue.loras import (
    EXPERTS,
    MAX_LORAS_PER_JOB,
    LoraLayout,
    LoraRefused,
    LoraWeights,
    metadata_alpha,
    mismatch,
    read_layout,
)

logger = logging.getLogger("framecraft.worker")

SLOT_RANK_ENV = "FRAMECRAFT_LORA_SLOT_RANK"
SLOTS = tuple(f"framecraft_{index}" for index in range(MAX_LORAS_PER_JOB))
_DTYPES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32"}


def slot_rank() -> int:
    return max(1, int(os.environ.get(SLOT_RANK_ENV, "64")))


def slots_gb(preset_id: str, rank: int | None = None, dtype_bytes: int = 2) -> float:
    """The most GPU memory a pipeline's slots take (GiB): MAX_LORAS_PER_JOB adapters of
    `rank` (the slot rank) on every linear layer of the transformer, in its dtype (bf16 on a
    GPU). Slots made for a LoRA that changes fewer layers are smaller.

    Memory plans leave them out, so that a job without LoRAs is never planned onto a slower
    profile for them: at the default slot rank they fit in the planner's headroom wherever a
    plan fits (a test checks every preset on every GPU size). Slots widened for LoRAs of
    higher rank may not: three of rank 128 on a 14B model under model offload outgrow a 38 to
    51 GB GPU."""
    features = sum(out + inner for out, inner in linear_layers(preset_id).values())
    return MAX_LORAS_PER_JOB * (rank or slot_rank()) * features * dtype_bytes / 2**30


@dataclass
class _Slot:
    key: tuple[str, float]  # the LoRA's key and strength ("" for an empty slot)
    rank: int
    modules: frozenset[str]


class LoraAdapters:
    """The LoRA slots of one of a pipeline's denoisers (`transformer` unless named)."""

    def __init__(self, pipeline: Any, component: str = "transformer") -> None:
        self.pipeline = pipeline
        self.component = component
        self.slots: dict[str, _Slot] = {}
        self.swaps = 0  # slots filled by a hot swap
        self.rebuilds = 0  # slots (re)built by a fresh load (each slot once, at first use)

    @property
    def transformer(self) -> Any:
        return getattr(self.pipeline, self.component)

    def _into(self) -> dict[str, Any]:
        return load_into(self.component)

    def apply(self, loras: Sequence[LoraWeights], preset_id: str) -> None:
        """Make the transformer run with exactly these LoRAs at their strengths."""
        if len(loras) > len(SLOTS):
            raise GenerationError(ErrorCode.BAD_PARAMETERS,
                                  f"A job takes at most {len(SLOTS)} LoRAs.")
        if not loras:
            if self.slots:
                self.transformer.disable_adapters()
            return
        for slot, lora in zip(SLOTS, loras, strict=False):
            held = self.slots.get(slot)
            if held is not None and held.key == (lora.key, lora.strength):
                continue
            self._fill(slot, lora, preset_id, held)
        self.transformer.enable_adapters()
        self.transformer.set_adapter(list(SLOTS[:len(loras)]))
        # set_adapter marks the active adapters trainable; a compiled graph guards on that
        # flag, so keep it one way whatever is active.
        for name, parameter in self.transformer.named_parameters():
            if ".lora_" in name:
                parameter.requires_grad_(False)

    def _device(self, slot: str) -> torch.device:
        """Where the slot's matrices live (where a swap copies to), else the transformer's
        weights: the file is read and padded there, on the GPU a matter of milliseconds.
        Weights that an offload hook keeps on the meta device are read on the CPU (measured
        on an H200: safetensors cannot read onto meta)."""
        device = torch.device(self.transformer.device)
        for module in self.transformer.modules():
            lora_a = getattr(module, "lora_A", None)
            if lora_a is not None and slot in lora_a:
                device = torch.device(lora_a[slot].weight.device)
                break
        return torch.device("cpu") if device.type == "meta" else device

    def _fill(self, slot: str, lora: LoraWeights, preset_id: str, held: _Slot | None) -> None:
        device = self._device(slot)
        tensors, layout = read_lora(lora, preset_id, device)
        if held is not None and layout.rank <= held.rank and set(layout.layers) <= held.modules:
            state = self._state_dict(tensors, layout, lora.strength, held.rank, held.modules)
            self.pipeline.load_lora_weights(state, adapter_name=slot, hotswap=True,
                                            **self._into())
            self.swaps += 1
            self.slots[slot] = _Slot((lora.key, lora.strength), held.rank, held.modules)
            return
        rank, modules = max(layout.rank, slot_rank()), frozenset(layout.layers)
        if not self.slots:
            # The first LoRA on this pipeline makes every slot at once (the others empty), so
            # the transformer's structure is settled: later jobs only swap and switch.
            others = [other for other in SLOTS if other != slot]
        else:
            logger.info("LoRA slot %s rebuilt for %s (rank %d): a compiled transformer "
                        "recompiles", slot, lora.name, rank)
            self.transformer.delete_adapters(slot)  # this denoiser's, not the other's
            others = []
        self._load(slot, self._state_dict(tensors, layout, lora.strength, rank, modules))
        self.slots[slot] = _Slot((lora.key, lora.strength), rank, self._modules_of(slot))
        for other in others:
            self._load(other, self._state_dict({}, None, 0.0, rank, modules, device))
            self.slots[other] = _Slot(("", 0.0), rank, self._modules_of(other))

    def _load(self, slot: str, state: dict[str, torch.Tensor]) -> None:
        with warnings.catch_warnings():
            # PEFT warns of a second adapter: several slots are the point.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            self.pipeline.load_lora_weights(state, adapter_name=slot, **self._into())
        self.rebuilds += 1

    def _modules_of(self, slot: str) -> frozenset[str]:
        """The layers a slot holds (diffusers may add some, e.g. Wan I2V's image keys)."""
        return frozenset(name for name, module in self.transformer.named_modules()
                         if slot in (getattr(module, "lora_A", None) or {}))

    def _state_dict(self, tensors: dict[str, torch.Tensor], layout: LoraLayout | None,
                    strength: float, rank: int, modules: frozenset[str],
                    device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """The LoRA in diffusers' naming, padded with zeros to `rank` and to `modules`, on the
        device its tensors were read to."""
        dtype = self.transformer.dtype
        if device is None:
            device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
        state: dict[str, torch.Tensor] = {}
        for name in sorted(modules):
            layer = layout.layers.get(name) if layout is not None else None
            base = self.transformer.get_submodule(name)
            base = getattr(base, "base_layer", base)
            down = torch.zeros(rank, base.in_features, dtype=dtype, device=device)
            up = torch.zeros(base.out_features, rank, dtype=dtype, device=device)
            if layer is not None:
                down[:layer.rank] = tensors[layer.down_key].to(dtype)
                # Strength and alpha/rank ride in the up matrix: PEFT's scaling stays 1.
                up[:, :layer.rank] = (tensors[layer.up_key].float()
                                      * (layer.scale * strength)).to(dtype)
            state[f"transformer.{name}.lora_A.weight"] = down
            state[f"transformer.{name}.lora_B.weight"] = up
        return state


def read_lora(lora: LoraWeights, preset_id: str, device: torch.device | None = None
              ) -> tuple[dict[str, torch.Tensor], LoraLayout]:
    """The file's tensors (read onto `device`) and its layout, checked again against the
    preset it runs on."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(lora.path, framework="pt", device=str(device or "cpu")) as reader:
            metadata = reader.metadata() or {}
            tensors = {key: reader.get_tensor(key) for key in reader.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as exc:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"The LoRA “{lora.name}” could not be read: {exc}") from None
    try:
        layout = read_layout(
            {key: (_DTYPES.get(t.dtype, str(t.dtype)), tuple(t.shape))
             for key, t in tensors.items()},
            alphas={key: float(t) for key, t in tensors.items() if key.endswith(".alpha")},
            metadata_alpha=metadata_alpha(metadata))
    except LoraRefused as refused:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"The LoRA “{lora.name}”: {refused.message}") from None
    if problem := mismatch(layout, preset_id):
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"The LoRA “{lora.name}” does not fit this model: {problem}.")
    return tensors, layout


_ADAPTERS: weakref.WeakKeyDictionary[Any, dict[str, LoraAdapters]] = (
    weakref.WeakKeyDictionary())
# A pipeline's denoisers, by the expert a LoRA names: the high-noise one runs first.
_EXPERT_COMPONENTS = {"high_noise": "transformer", "low_noise": "transformer_2"}


def adapters_of(pipeline: Any, component: str = "transformer") -> LoraAdapters:
    """The LoRA slots of a warm pipeline's denoiser (made on first use, gone with the
    pipeline)."""
    held = _ADAPTERS.setdefault(pipeline, {})
    if component not in held:
        held[component] = LoraAdapters(pipeline, component)
    return held[component]


def denoisers(pipeline: Any) -> list[str]:
    """The pipeline's denoisers LoRAs go into: `transformer`, and `transformer_2` where the
    pipeline has a second expert."""
    return [name for name in ("transformer", "transformer_2")
            if isinstance(getattr(pipeline, name, None), torch.nn.Module)]


def load_into(component: str) -> dict[str, Any]:
    """What `load_lora_weights` needs to load into this denoiser."""
    return {"load_into_transformer_2": True} if component == "transformer_2" else {}


def expert_denoisers(pipeline: Any, expert: str) -> list[str]:
    """The denoisers a LoRA naming `expert` (one of EXPERTS) goes into: its own expert's where
    the pipeline has two, the only one otherwise."""
    components = denoisers(pipeline)
    if len(components) < 2 or expert == "both":
        return components
    return [_EXPERT_COMPONENTS[expert]]


def targets(lora: LoraWeights, component: str, components: Sequence[str]) -> bool:
    """Whether the LoRA goes into this denoiser: every LoRA into a pipeline's only one."""
    if lora.expert not in EXPERTS:
        raise GenerationError(ErrorCode.BAD_PARAMETERS,
                              f"The LoRA “{lora.name}” names the expert {lora.expert!r}; "
                              f"experts are {', '.join(EXPERTS)}.")
    if len(components) < 2 or lora.expert == "both":
        return True
    return _EXPERT_COMPONENTS[lora.expert] == component


def apply_loras(pipeline: Any, loras: Sequence[LoraWeights], preset_id: str) -> None:
    """Run this pipeline's next job with exactly these LoRAs (none: the base model), each in
    the experts it names."""
    if not loras and pipeline not in _ADAPTERS:
        return
    components = denoisers(pipeline)
    for component in components:
        chosen = [lora for lora in loras if targets(lora, component, components)]
        if chosen or component in _ADAPTERS.get(pipeline, {}):
            adapters_of(pipeline, component).apply(chosen, preset_id)
