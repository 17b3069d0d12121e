"""LoRAs: what a LoRA file holds (read from its tensor names and shapes alone), which base
models it fits, and the diffusers names of the layers it changes.

Plain Python, no torch: the web tier checks an upload with it before accepting it, and the worker
loads the file by the same reading, so what was accepted is what runs. Key naming understood:
diffusers (`transformer.<module>.lora_A.weight`), PEFT (`base_model.model.<module>.lora_A
[.<adapter>].weight`), the original Wan format (`diffusion_model.blocks.0.self_attn.q.lora_down
.weight` with `.alpha`) and kohya/musubi-tuner (`lora_unet_blocks_0_self_attn_q.lora_down.weight`);
the Wan names are mapped as diffusers' own Wan converter maps them (a test checks that).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .base import Preset
from .lora_targets import BASE_LABELS, linear_layers, lora_presets
from .request import EXPERTS, LoraWeights

__all__ = ["EXPERTS", "LoraWeights"]  # the worker's request names LoRAs with them

# Each of EXPERTS as the studio's choice reads.
EXPERT_LABELS = {"both": "Both experts", "high_noise": "High-noise expert only",
                 "low_noise": "Low-noise expert only"}

# Workers keep LoRAs padded to one rank in fixed adapter slots (worker.runtime.loras).
LORA_MAX_RANK = 128
MAX_LORAS_PER_JOB = 3
MAX_STRENGTH = 2.0
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32"})

_PREFIXES = ("base_model.model.", "transformer.", "diffusion_model.", "model.diffusion_model.")
_PART = re.compile(
    r"^(?P<module>.+?)\.(?:(?P<ab>lora_[AB])(?:\.[A-Za-z0-9_-]+)?\.weight"
    r"|(?P<du>lora_down|lora_up)\.weight|(?P<alpha>alpha)|(?P<other>lora_B\.bias|diff_b|diff"
    r"|dora_scale|lora_magnitude_vector.*))$")
_WAN_ATTN = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out.0", "k_img": "add_k_proj",
             "v_img": "add_v_proj"}
_WAN_OTHER = {
    "head.head": "proj_out",
    "time_projection.1": "condition_embedder.time_proj",
    "text_embedding.0": "condition_embedder.text_embedder.linear_1",
    "text_embedding.2": "condition_embedder.text_embedder.linear_2",
    "time_embedding.0": "condition_embedder.time_embedder.linear_1",
    "time_embedding.2": "condition_embedder.time_embedder.linear_2",
    "img_emb.proj.1": "condition_embedder.image_embedder.ff.net.0.proj",
    "img_emb.proj.3": "condition_embedder.image_embedder.ff.net.2",
}
_WAN_BLOCK = re.compile(r"^(vace_)?blocks\.(\d+)\.(self_attn|cross_attn)\.(q|k|v|o|k_img|v_img)$")
_WAN_FFN = re.compile(r"^(vace_)?blocks\.(\d+)\.ffn\.(0|2)$")
_KOHYA_WAN = re.compile(r"^(vace_)?blocks_(\d+)_(?:(self_attn|cross_attn)_(q|k|v|o|k_img|v_img)"
                        r"|ffn_(0|2))$")


class LoraRefused(ValueError):
    """The file is not a LoRA we can use; `message` says why, for the person who sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LoraLayer:
    """One changed layer, by its diffusers name: the file's keys for its two matrices, and the
    factor (alpha / rank) its product is scaled by."""

    module: str
    rank: int
    in_features: int
    out_features: int
    down_key: str
    up_key: str
    scale: float = 1.0


@dataclass(frozen=True)
class LoraLayout:
    """What a LoRA file holds: its naming format and its layers by diffusers module name."""

    format: str
    layers: Mapping[str, LoraLayer]

    @property
    def rank(self) -> int:
        return max(layer.rank for layer in self.layers.values())


def read_layout(tensors: Mapping[str, tuple[str, tuple[int, ...]]],
                alphas: Mapping[str, float] | None = None,
                metadata_alpha: float | None = None) -> LoraLayout:
    """Read a LoRA from its tensors' names → (dtype, shape). `alphas` are the values of its
    `.alpha` scalars by key (the worker reads them; the web tier, which never loads tensor data,
    passes none and gets scale 1). `metadata_alpha` is a diffusers file's `lora_alpha`."""
    found: dict[str, dict[str, str]] = {}
    unknown: list[str] = []
    unsupported: list[str] = []
    fmt = "diffusers"
    for key, (dtype, shape) in tensors.items():
        raw = key
        for prefix in _PREFIXES:
            if raw.startswith(prefix):
                fmt = {"base_model.model.": "PEFT", "transformer.": "diffusers"}.get(
                    prefix, "original Wan")
                raw = raw[len(prefix):]
                break
        if raw.startswith("lora_unet_"):
            fmt, raw = "kohya", raw[len("lora_unet_"):]
        match = _PART.match(raw)
        if match is None:
            unknown.append(key)
            continue
        if match["other"]:
            unsupported.append(key)
            continue
        if dtype not in FLOAT_DTYPES:
            raise LoraRefused(f"The tensor {key} is of type {dtype}; LoRA weights are "
                              "16- or 32-bit floats.")
        part = ("down" if (match["ab"] == "lora_A" or match["du"] == "lora_down") else
                "up" if match["ab"] or match["du"] else "alpha")
        if part != "alpha" and len(shape) != 2:
            raise LoraRefused(f"The tensor {key} has shape {list(shape)}; LoRA matrices are "
                              "two-dimensional (layers other than linear ones are not supported).")
        found.setdefault(_diffusers_name(match["module"], fmt == "kohya"), {})[part] = key
    if unsupported:
        raise LoraRefused(f"This file holds weight changes that are not LoRA matrices (e.g. "
                          f"{unsupported[0]}): DoRA, bias or full-weight differences are not "
                          "supported.")
    if unknown:
        shown = ", ".join(unknown[:3])
        raise LoraRefused(f"This file is not a LoRA we recognise: keys such as {shown} are not "
                          "LoRA weights in the diffusers, PEFT, original Wan or kohya naming.")
    if not found:
        raise LoraRefused("This file holds no LoRA weights.")
    layers = {}
    for module, parts in found.items():
        if "down" not in parts or "up" not in parts:
            raise LoraRefused(f"The layer {module} has only one of its two LoRA matrices; the "
                              "file is incomplete.")
        down, up = tensors[parts["down"]][1], tensors[parts["up"]][1]
        rank = down[0]
        if up[1] != rank:
            raise LoraRefused(f"The layer {module} has matrices of ranks {rank} and {up[1]}; "
                              "they must agree.")
        if not 1 <= rank <= LORA_MAX_RANK:
            raise LoraRefused(f"This LoRA has rank {rank} (layer {module}); the workers take "
                              f"ranks up to {LORA_MAX_RANK}.")
        alpha = (alphas or {}).get(parts.get("alpha", ""), metadata_alpha)
        layers[module] = LoraLayer(module=module, rank=rank, in_features=down[1],
                                   out_features=up[0], down_key=parts["down"],
                                   up_key=parts["up"],
                                   scale=1.0 if alpha is None else float(alpha) / rank)
    return LoraLayout(format=fmt, layers=dict(sorted(layers.items())))


def _diffusers_name(module: str, kohya: bool) -> str:
    """A layer's name in the diffusers transformer, from any of the namings we read."""
    if kohya:
        match = _KOHYA_WAN.match(module)
        if match is None:
            return module  # not a Wan layer: it will fit no model, and the check says so
        vace, block, attn, proj, ffn = match.groups()
        module = (f"{vace or ''}blocks.{block}." +
                  (f"{attn}.{proj}" if attn else f"ffn.{ffn}"))
    if match := _WAN_BLOCK.match(module):
        vace, block, attn, proj = match.groups()
        return f"{vace or ''}blocks.{block}.{'attn1' if attn == 'self_attn' else 'attn2'}." \
               f"{_WAN_ATTN[proj]}"
    if match := _WAN_FFN.match(module):
        vace, block, which = match.groups()
        return f"{vace or ''}blocks.{block}.ffn.{'net.0.proj' if which == '0' else 'net.2'}"
    return _WAN_OTHER.get(module, module)


def lora_experts(preset: Preset) -> tuple[str, ...]:
    """The experts a LoRA may name on this preset: every one of EXPERTS on a model of two
    denoisers (Wan 2.2 A14B), none on a model of one (its LoRAs all go into it)."""
    return EXPERTS if preset.memory.experts > 1 else ()


def mismatch(layout: LoraLayout, preset_id: str) -> str | None:
    """Why the LoRA does not fit the preset's transformer, or None when every layer it changes
    is a linear layer of that transformer with the same shape."""
    table = linear_layers(preset_id)
    label = BASE_LABELS.get(preset_id, preset_id)
    for module, layer in layout.layers.items():
        shape = table.get(module)
        if shape is None:
            return f"it changes a layer {module} that {label} does not have"
        if shape != (layer.out_features, layer.in_features):
            return (f"its layer {module} maps {layer.in_features} to {layer.out_features} "
                    f"features; in {label} it maps {shape[1]} to {shape[0]}")
    return None


def fitting_presets(layout: LoraLayout) -> list[str]:
    """The presets (catalogue order) whose transformer this LoRA fits."""
    return [preset_id for preset_id in lora_presets() if mismatch(layout, preset_id) is None]


def made_for(presets: Iterable[str]) -> str:
    """What people call the base model of a LoRA that fits these presets (the first)."""
    first = next(iter(presets), None)
    return BASE_LABELS.get(first, first) if first else "no model here"


def fit_refusal(layout: LoraLayout, wanted: str | None) -> str | None:
    """The message refusing this LoRA for the preset `wanted` (None: any preset will do), or
    None when it fits."""
    fits = fitting_presets(layout)
    if wanted is not None and wanted in fits:
        return None
    if wanted is None and fits:
        return None
    if fits:
        return (f"This LoRA is for {made_for(fits)}, not {BASE_LABELS.get(wanted or '', wanted)}"
                f": {mismatch(layout, wanted or '')}.")
    # The preset whose layers it matches best tells the person what is wrong.
    closest = wanted or max(lora_presets(), key=lambda p: _matching(layout, p))
    return (f"This LoRA fits none of the models here. Against "
            f"{BASE_LABELS.get(closest, closest)}: {mismatch(layout, closest)}.")


def _matching(layout: LoraLayout, preset_id: str) -> int:
    table = linear_layers(preset_id)
    return sum(table.get(m) == (layer.out_features, layer.in_features)
               for m, layer in layout.layers.items())


def metadata_alpha(metadata: Mapping[str, str]) -> float | None:
    """A diffusers LoRA's `lora_alpha`, from its file's metadata (its adapter config)."""
    try:
        alpha = json.loads(metadata["lora_adapter_metadata"])["lora_alpha"]
    except (KeyError, ValueError, TypeError):
        return None
    return float(alpha) if isinstance(alpha, int | float) and not isinstance(alpha, bool) \
        else None
