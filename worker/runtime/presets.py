"""The model catalogue: one preset per model, as plain data.

This module must stay importable without torch or diffusers: the web tier reads the
catalogue to build its forms.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

MODELS_DIR_ENV = "FRAMECRAFT_MODELS_DIR"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class Ability(StrEnum):
    """An input a preset can take."""

    TEXT = "text"
    IMAGE = "image"
    END_IMAGE = "end_image"
    VIDEO = "video"
    MASK = "mask"
    REFERENCE = "reference"


class Task(StrEnum):
    """What a job asks of a preset; each task needs some inputs (`TASK_INPUTS`)."""

    T2V = "t2v"  # a prompt alone
    I2V = "i2v"  # a start image, and an end image where the preset takes one
    V2V = "v2v"  # an input video restyled or transformed as the prompt says
    EDIT = "edit"  # the masked part of an input video repainted
    EXTEND = "extend"  # an input video continued past its last frame
    PERSONALIZE = "personalize"  # a subject from reference photos, placed as the prompt says


TASK_INPUTS: dict[Task, frozenset[Ability]] = {
    Task.T2V: frozenset({Ability.TEXT}),
    Task.I2V: frozenset({Ability.TEXT, Ability.IMAGE}),
    Task.V2V: frozenset({Ability.TEXT, Ability.VIDEO}),
    Task.EDIT: frozenset({Ability.TEXT, Ability.VIDEO, Ability.MASK}),
    Task.EXTEND: frozenset({Ability.TEXT, Ability.VIDEO}),
    Task.PERSONALIZE: frozenset({Ability.TEXT, Ability.REFERENCE}),
}

TASK_LABELS: dict[Task, str] = {
    Task.T2V: "text to video",
    Task.I2V: "image to video",
    Task.V2V: "video to video",
    Task.EDIT: "video editing",
    Task.EXTEND: "video extension",
    Task.PERSONALIZE: "personalization",
}


@dataclass(frozen=True, kw_only=True)
class MemoryNeeds:
    """What a preset needs of GPU memory, in GiB, at its default size with bf16 weights.

    Calibrated against the H200 peaks in docs/performance.json (torch.cuda.max_memory_allocated
    over a whole job, written by bench/gpu_profiles.py), so that no measured profile is
    predicted below its peak:

    - weights are the parameter bytes of the architectures the benchmark builds
      (worker/runtime/architectures.py): bf16, fp32 where the preset keeps a component in fp32.
      Text encoders load wholly in bf16 (transformers keeps T5's `wo` in fp32 for fp16 only);
    - `decode_gb` is each job's peak on the GPU profile less its weights: the untiled VAE
      decode is the largest working set of every preset at its default size. See `_decode_gb`
      for how it divides between frame area and frame count;
    - `activation_gb` scales with the denoiser's token count: measured for Wan 2.1 14B under
      model offload (3.57 GiB at 32,760 tokens), and for the others the live tensors of one
      forward traced on PyTorch's meta device, times the 14B's measured/traced ratio (1.02);
    - `tiled_decode_gb` is the traced tiled decode times 1.2 (the Wan 2.1 VAE's measured/traced
      ratio untiled is 1.17, and its measured tiled peak is at most 2.0 GiB at 832x480x81).

    Every figure is rounded up to 0.1 GiB. `step_s` is one denoising step (both CFG passes) on an
    H200 with everything on the GPU: it weighs per-step costs of offloading against per-job ones
    when a profile is chosen.
    """

    transformer_gb: float
    text_encoder_gb: float  # all text encoders
    other_gb: float  # the VAE (often in fp32): group offload keeps it resident
    image_encoder_gb: float = 0.0  # offloaded like the text encoders
    activation_gb: float  # the denoiser's working memory beyond its weights
    decode_gb: float  # VAE decode without tiling, weights excluded
    tiled_decode_gb: float
    blocks: int  # transformer blocks: block-level offload keeps one group of them resident
    step_s: float
    # The largest single layer of the text encoders (their token embedding) plus the encoding's
    # working memory: leaf-level and sequential offload hold it on the GPU while encoding.
    encoder_leaf_gb: float = 0.0

    @property
    def weights_gb(self) -> float:
        return self.transformer_gb + self.text_encoder_gb + self.image_encoder_gb + self.other_gb

    @property
    def block_gb(self) -> float:
        return self.transformer_gb / max(1, self.blocks)

    @property
    def all_on_gpu_gb(self) -> float:
        """Peak with every component resident and an untiled decode."""
        return self.weights_gb + max(self.activation_gb, self.decode_gb)

    def scaled(self, area: float) -> MemoryNeeds:
        """These needs for frames `area` times as large, at the same frame count.

        The denoiser's tokens, the VAE's feature maps and the decoded video all grow with the
        frame area (measured: the Wan 2.1 VAE's 81-frame decode takes 8.9 GiB at 832x480 and
        20.5 GiB at 1280x720, 2.31x for 2.31x the area). Weights do not change.
        """
        return replace(
            self,
            activation_gb=self.activation_gb * area,
            decode_gb=self.decode_gb * area,
            tiled_decode_gb=self.tiled_decode_gb * area,
        )


@dataclass(frozen=True, kw_only=True)
class Preset:
    """One model the studio can run, with the limits users may pick within.

    `pipeline_class` is the class the checkpoint is loaded as; `tasks` names, per task, the
    diffusers class that runs it, built from the same loaded components (`from_pipe`).
    `family` picks the architecture (and so how inputs are passed to the pipeline).
    """

    id: str
    label: str
    description: str
    family: str
    pipeline_class: str
    source: str | None
    abilities: frozenset[Ability]
    tasks: Mapping[Task, str]
    default_width: int
    default_height: int
    sizes: tuple[tuple[int, int], ...]
    min_frames: int
    max_frames: int
    default_frames: int
    frame_step: int
    default_steps: int
    max_steps: int
    default_guidance: float
    max_guidance: float
    fps: int
    memory: MemoryNeeds
    builtin: bool = False
    # Components loaded in float32 even when the rest runs in bf16 (the Wan VAE loses detail).
    fp32_components: tuple[str, ...] = ()
    # Components that come from other Hub repositories: name → (repo, subfolder).
    component_sources: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    # Extra keyword arguments every call of this preset's pipeline gets.
    call_defaults: Mapping[str, Any] = field(default_factory=dict)
    max_reference_images: int = 0
    max_input_frames: int = 0
    default_strength: float = 0.8

    def __post_init__(self) -> None:
        if (self.default_width, self.default_height) not in self.sizes:
            raise ValueError(f"preset {self.id}: the default size is not among its sizes")
        if not self.validate_frames(self.default_frames):
            raise ValueError(f"preset {self.id}: default_frames breaks its own frame rules")
        if not self.validate_steps(self.default_steps):
            raise ValueError(f"preset {self.id}: default_steps is over max_steps")
        if not self.validate_guidance(self.default_guidance):
            raise ValueError(f"preset {self.id}: default_guidance is over max_guidance")
        if self.builtin == (self.source is not None):
            raise ValueError(f"preset {self.id}: built-in presets have no source, others need one")
        if not self.tasks:
            raise ValueError(f"preset {self.id}: it can do no task")
        for task in self.tasks:
            if not TASK_INPUTS[task] <= self.abilities:
                raise ValueError(f"preset {self.id}: {task} needs inputs it does not take")
        if Ability.REFERENCE in self.abilities and self.max_reference_images < 1:
            raise ValueError(f"preset {self.id}: reference images need max_reference_images")
        if Ability.VIDEO in self.abilities and self.max_input_frames < 1:
            raise ValueError(f"preset {self.id}: video input needs max_input_frames")

    def supports(self, ability: Ability) -> bool:
        """Whether the preset accepts this kind of input."""
        return ability in self.abilities

    def can(self, task: Task | str) -> bool:
        """Whether the preset can run this task."""
        return task in self.tasks

    def pipeline_class_for(self, task: Task | str) -> str:
        """The diffusers class that runs `task` on this preset's components."""
        return self.tasks[Task(task)]

    def memory_at(self, width: int, height: int) -> MemoryNeeds:
        """The memory needs of a job at another frame size, with the default frame count."""
        return self.memory.scaled(width * height / (self.default_width * self.default_height))

    @property
    def min_vram_gb(self) -> float:
        """GPU memory for the default size with the whole pipeline resident."""
        return round(self.memory.all_on_gpu_gb, 1)

    def task_labels(self) -> list[str]:
        return [TASK_LABELS[task] for task in Task if task in self.tasks]

    def limits_summary(self) -> str:
        """One line for people: largest size, longest clip, most steps."""
        width, height = max(self.sizes, key=lambda size: size[0] * size[1])
        seconds = self.duration_s(self.max_frames)
        return (
            f"up to {width}×{height}, {self.max_frames} frames ({seconds:.1f} s at "
            f"{self.fps} fps), {self.max_steps} steps; needs about {self.min_vram_gb:g} GB "
            "of GPU memory without offloading"
        )

    def validate_frames(self, num_frames: int) -> bool:
        """Frame counts must lie within the limits and be `frame_step * k + 1`."""
        return (
            self.min_frames <= num_frames <= self.max_frames
            and (num_frames - 1) % self.frame_step == 0
        )

    def frame_choices(self) -> tuple[int, ...]:
        """Every valid frame count, smallest first."""
        first = self.min_frames + (-(self.min_frames - 1)) % self.frame_step
        return tuple(range(first, self.max_frames + 1, self.frame_step))

    def validate_size(self, width: int, height: int) -> bool:
        """Only the listed sizes are allowed: each model is trained for a few."""
        return (width, height) in self.sizes

    def validate_steps(self, steps: int) -> bool:
        """Steps must lie in 1..max_steps."""
        return 1 <= steps <= self.max_steps

    def validate_guidance(self, guidance: float) -> bool:
        """Guidance must lie in 0..max_guidance; 1 or less turns classifier-free guidance off."""
        return 0.0 <= guidance <= self.max_guidance

    def duration_s(self, num_frames: int) -> float:
        """How long a clip of this many frames plays."""
        return num_frames / self.fps

    def parameter_errors(
        self, *, width: int, height: int, num_frames: int, steps: int, guidance: float
    ) -> dict[str, str]:
        """Problems with the given parameters, keyed by field name; empty when all is well."""
        errors: dict[str, str] = {}
        if not self.validate_size(width, height):
            allowed = ", ".join(f"{w}x{h}" for w, h in self.sizes)
            errors["size"] = f"{width}x{height} is not offered by {self.label}; pick {allowed}."
        if not self.validate_frames(num_frames):
            errors["num_frames"] = (
                f"Frames must be between {self.min_frames} and {self.max_frames} and one more "
                f"than a multiple of {self.frame_step}; {num_frames} is not."
            )
        if not self.validate_steps(steps):
            errors["steps"] = f"Steps must be between 1 and {self.max_steps}; {steps} is not."
        if not self.validate_guidance(guidance):
            errors["guidance"] = (
                f"Guidance must be between 0 and {self.max_guidance:g}; {guidance:g} is not."
            )
        return errors

    def local_dir(self) -> Path | None:
        """Where an admin may put this preset's weights: `$FRAMECRAFT_MODELS_DIR/<id>`."""
        root = os.environ.get(MODELS_DIR_ENV)
        return Path(root) / self.id if root else None

    def installed_path(self) -> Path | None:
        """The folder holding complete weights (models folder first, then the HF cache).

        A preset assembled from several repositories is only ever installed as a folder in the
        models folder (fetch_model writes it). Never touches the network.
        """
        if self.source is None:
            return None
        local = self.local_dir()
        if local is not None and checkpoint_complete(local):
            return local
        if self.component_sources:
            return None
        snapshot = _hf_cached_snapshot(self.source)
        if snapshot is not None and checkpoint_complete(snapshot):
            return snapshot
        return None

    def is_installed(self) -> bool:
        """Whether a worker can load this preset without downloading anything."""
        return self.builtin or self.installed_path() is not None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time.

    huggingface_hub reads it once at import; tests and workers may change it later.
    """
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache)
    if home := os.environ.get("HF_HOME"):
        return Path(home) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _hf_cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # the web image has no huggingface_hub
        return None
    found = try_to_load_from_cache(repo_id, "model_index.json", cache_dir=hf_cache_dir())
    return Path(found).parent if isinstance(found, str) else None


def checkpoint_complete(folder: Path) -> bool:
    """Whether a diffusers pipeline folder has every component and all weight files.

    A half-finished download must read as "not installed", not crash a job later.
    """
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        component = folder / name
        if not component.is_dir():
            return False
        if (component / "config.json").is_file() and not _has_weights(component):
            return False
    return True


def _has_weights(component: Path) -> bool:
    indexes = sorted(component.glob("*.index.json"))
    if indexes:
        return any(_shards_present(component, index) for index in indexes)
    return any(p.suffix in _WEIGHT_SUFFIXES and p.is_file() for p in component.iterdir())


def _shards_present(component: Path, index: Path) -> bool:
    try:
        shards = set(json.loads(index.read_text())["weight_map"].values())
    except (OSError, ValueError, KeyError, AttributeError):
        return False
    return bool(shards) and all((component / shard).is_file() for shard in shards)


def _gib(value: float) -> float:
    """A figure in GiB rounded up to 0.1, so that rounding never lowers a prediction."""
    return math.ceil(round(value * 10, 6)) / 10


def _decode_gb(
    width: int, height: int, frames: int, *, chunk_gb_per_mp: float, voxel_bytes: float
) -> float:
    """An untiled VAE decode's working memory, weights excluded.

    Every VAE here but LTX's decodes a few frames at a time: their feature maps grow with the
    frame area only (`chunk_gb_per_mp`, GiB per million pixels of one frame), and what grows
    with the frame count is the decoded video gathered as it goes (`voxel_bytes` per pixel of
    every frame). LTX's VAE decodes the whole clip at once, so all of it is per voxel.
    """
    pixels = width * height
    return _gib(chunk_gb_per_mp * pixels / 1e6 + voxel_bytes * pixels * frames / 2**30)


# Encoder weights, bf16: UMT5-XXL (Wan, 5.68 B parameters) and T5 v1.1 XXL (LTX, CogVideoX,
# 4.76 B). Their largest layer is the token embedding: 256,384 × 4,096 (1.96 GiB) and
# 32,128 × 4,096 (0.25 GiB), plus 0.1 GiB of encoding working memory.
_UMT5_XXL_GB = 10.6
_UMT5_LEAF_GB = 2.1
_T5_XXL_GB = 8.9
_T5_LEAF_GB = 0.4
_WAN_VAE_FP32_GB = 0.5  # 0.47 GiB: 127 M parameters in fp32
# The Wan 2.1 VAE (fp32): the 81-frame decode peaks at 22.2–22.5 GiB per megapixel of frame
# area (measured at 832×480 and 1280×720, t2v and i2v), of which the decoded video and its
# copy while frames are appended are 2 × 12 bytes a voxel.
_WAN21_DECODE = {"chunk_gb_per_mp": 20.8, "voxel_bytes": 24}
# VACE holds its conditioning video (fp32 RGB, 12 bytes a voxel) through the decode: measured
# 0.38 GiB more than Wan 2.1 T2V at 832×480×81, 0.84 GiB more at 1280×720×81.
_VACE_DECODE = {"chunk_gb_per_mp": 20.8, "voxel_bytes": 24 + 12}
# The HunyuanVideo VAE (bf16; Kandinsky 5, FramePack) decodes 16 frames at a time, and its
# mid-block attends over all of them under a causal mask it builds in full: measured 55.1 GiB
# per megapixel of frame area at 121 frames (Kandinsky), of which the decoded video and its
# copy are 2 × 6 bytes a voxel.
_HUNYUAN_VAE_CHUNK_GB_PER_MP = 54.0

_WAN_480P = ((832, 480), (480, 832))
_WAN_720P = ((1280, 720), (720, 1280))
_TEXT_ONLY = frozenset({Ability.TEXT})
_VACE_ABILITIES = frozenset(
    {Ability.TEXT, Ability.IMAGE, Ability.VIDEO, Ability.MASK, Ability.REFERENCE}
)
_VACE_TASKS = {task: "WanVACEPipeline" for task in Task}
_WAN_COMMON: dict[str, Any] = {
    "min_frames": 5,
    "max_frames": 81,
    "default_frames": 81,
    "frame_step": 4,
    "default_steps": 50,
    "max_steps": 100,
    "default_guidance": 5.0,
    "max_guidance": 20.0,
    "fps": 16,
    "fp32_components": ("vae",),
}

CATALOGUE: dict[str, Preset] = {
    preset.id: preset
    for preset in (
        Preset(
            id="tiny",
            label="Tiny random model (noise-like output, for trying the app without a GPU)",
            description=(
                "A toy-sized Wan 2.1 with random weights, built on the worker in a second. "
                "Its videos are coloured noise: use it to try the studio on any machine."
            ),
            family="wan",
            pipeline_class="WanPipeline",
            source=None,
            abilities=_TEXT_ONLY,
            tasks={Task.T2V: "WanPipeline"},
            default_width=128,
            default_height=128,
            sizes=((128, 128), (160, 96), (96, 160)),
            min_frames=5,
            max_frames=33,
            default_frames=17,
            frame_step=4,
            default_steps=8,
            max_steps=50,
            default_guidance=5.0,
            max_guidance=20.0,
            fps=8,
            memory=MemoryNeeds(
                transformer_gb=0.01,
                text_encoder_gb=0.01,
                other_gb=0.01,
                activation_gb=0.1,
                decode_gb=0.2,
                tiled_decode_gb=0.1,
                blocks=2,
                step_s=0.01,
            ),
            builtin=True,
        ),
        Preset(
            id="wan2.1-t2v-1.3b",
            label="Wan 2.1 text-to-video 1.3B (480p)",
            description=(
                "Wan 2.1's small text-to-video model: 5 second 480p clips at 16 fps, "
                "runs on consumer GPUs."
            ),
            family="wan",
            pipeline_class="WanPipeline",
            source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            abilities=_TEXT_ONLY,
            tasks={Task.T2V: "WanPipeline"},
            default_width=832,
            default_height=480,
            sizes=_WAN_480P,
            memory=MemoryNeeds(
                transformer_gb=2.7,  # 1.42 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                activation_gb=1.6,  # 32,760 tokens: traced 1.51 GiB
                decode_gb=_decode_gb(832, 480, 81, **_WAN21_DECODE),  # 9.1; measured 8.9
                tiled_decode_gb=2.1,  # traced 1.70 GiB; measured at most 2.0
                blocks=30,
                step_s=1.26,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **_WAN_COMMON,
        ),
        Preset(
            id="wan2.1-t2v-14b",
            label="Wan 2.1 text-to-video 14B (720p)",
            description=(
                "Wan 2.1's large text-to-video model: 5 second clips at 720p or 480p, "
                "16 fps, best quality; needs a data-centre GPU or offload."
            ),
            family="wan",
            pipeline_class="WanPipeline",
            source="Wan-AI/Wan2.1-T2V-14B-Diffusers",
            abilities=_TEXT_ONLY,
            tasks={Task.T2V: "WanPipeline"},
            default_width=1280,
            default_height=720,
            sizes=(*_WAN_720P, *_WAN_480P),
            memory=MemoryNeeds(
                transformer_gb=26.7,  # 14.29 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                # 75,600 tokens; measured 3.6 GiB at 832×480 (32,760 tokens, model offload).
                activation_gb=8.4,
                decode_gb=_decode_gb(1280, 720, 81, **_WAN21_DECODE),  # 20.9
                tiled_decode_gb=4.7,  # traced 3.91 GiB
                blocks=40,
                step_s=24.0,
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **_WAN_COMMON,
        ),
        Preset(
            id="wan2.1-i2v-14b-480p",
            label="Wan 2.1 image-to-video 14B (480p)",
            description=(
                "Animates a start image into a 5 second 480p clip at 16 fps, following the "
                "prompt; needs a data-centre GPU or offload."
            ),
            family="wan_i2v",
            pipeline_class="WanImageToVideoPipeline",
            source="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
            abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
            tasks={Task.I2V: "WanImageToVideoPipeline"},
            default_width=832,
            default_height=480,
            sizes=_WAN_480P,
            fp32_components=("vae", "image_encoder"),
            memory=MemoryNeeds(
                transformer_gb=30.6,  # 16.39 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                image_encoder_gb=2.4,  # OpenCLIP ViT-H/14 in fp32: 0.63 B parameters
                activation_gb=3.6,  # 32,760 tokens and 257 image tokens: traced 3.50 GiB
                # 9.1; measured 9.0, with the VAE encode of the conditioning video.
                decode_gb=_decode_gb(832, 480, 81, **_WAN21_DECODE),
                tiled_decode_gb=2.1,  # as Wan 2.1 T2V 1.3B
                blocks=40,
                step_s=6.6,
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **{k: v for k, v in _WAN_COMMON.items() if k != "fp32_components"},
        ),
        Preset(
            id="wan2.1-i2v-14b-720p",
            label="Wan 2.1 image-to-video 14B (720p)",
            description=(
                "Animates a start image into a 5 second 720p clip at 16 fps, following the "
                "prompt; needs a data-centre GPU or offload."
            ),
            family="wan_i2v",
            pipeline_class="WanImageToVideoPipeline",
            source="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
            abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
            tasks={Task.I2V: "WanImageToVideoPipeline"},
            default_width=1280,
            default_height=720,
            sizes=_WAN_720P,
            fp32_components=("vae", "image_encoder"),
            memory=MemoryNeeds(
                transformer_gb=30.6,  # 16.39 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                image_encoder_gb=2.4,  # OpenCLIP ViT-H/14 in fp32: 0.63 B parameters
                activation_gb=8.3,  # 75,600 tokens and 257 image tokens: traced 8.05 GiB
                decode_gb=_decode_gb(1280, 720, 81, **_WAN21_DECODE),  # 20.9; measured 20.5
                tiled_decode_gb=4.7,  # as Wan 2.1 T2V 14B
                blocks=40,
                step_s=24.5,
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **{k: v for k, v in _WAN_COMMON.items() if k != "fp32_components"},
        ),
        Preset(
            id="wan2.1-vace-1.3b",
            label="Wan 2.1 VACE 1.3B (480p: create, edit, extend, personalize)",
            description=(
                "Wan 2.1 with VACE control: text to video, a start image, restyling or "
                "repainting a masked part of a video, extending a clip, or placing a subject "
                "from reference photos; 480p, 16 fps."
            ),
            family="wan_vace",
            pipeline_class="WanVACEPipeline",
            source="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
            abilities=_VACE_ABILITIES,
            tasks=_VACE_TASKS,
            default_width=832,
            default_height=480,
            sizes=_WAN_480P,
            max_reference_images=3,
            max_input_frames=81,
            memory=MemoryNeeds(
                transformer_gb=4.1,  # 2.15 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                activation_gb=3.1,  # 32,760 tokens and 15 VACE hints: traced 3.03 GiB
                decode_gb=_decode_gb(832, 480, 81, **_VACE_DECODE),  # 9.4; measured 9.3
                tiled_decode_gb=2.4,  # as Wan 2.1 T2V 1.3B, and the conditioning video
                blocks=30,
                step_s=2.02,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **_WAN_COMMON,
        ),
        Preset(
            id="wan2.1-vace-14b",
            label="Wan 2.1 VACE 14B (720p: create, edit, extend, personalize)",
            description=(
                "The large Wan 2.1 VACE model: text to video, a start image, editing, "
                "extension and reference-photo personalization at 720p or 480p, 16 fps."
            ),
            family="wan_vace",
            pipeline_class="WanVACEPipeline",
            source="Wan-AI/Wan2.1-VACE-14B-diffusers",
            abilities=_VACE_ABILITIES,
            tasks=_VACE_TASKS,
            default_width=1280,
            default_height=720,
            sizes=(*_WAN_720P, *_WAN_480P),
            max_reference_images=3,
            max_input_frames=81,
            memory=MemoryNeeds(
                transformer_gb=32.4,  # 17.34 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=_WAN_VAE_FP32_GB,
                # 75,600 tokens: traced 14.57 GiB, of which the 8 VACE hints are 5.8.
                activation_gb=15.0,
                decode_gb=_decode_gb(1280, 720, 81, **_VACE_DECODE),  # 21.7; measured 21.4
                tiled_decode_gb=5.6,  # as Wan 2.1 T2V 14B, and the conditioning video
                blocks=40,
                step_s=31.2,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
            **_WAN_COMMON,
        ),
        Preset(
            id="wan2.2-ti2v-5b",
            label="Wan 2.2 text/image-to-video 5B (720p, 24 fps)",
            description=(
                "Wan 2.2's dense 5B model with its high-compression VAE: 5 second 720p clips "
                "at 24 fps from a prompt, or from a prompt and a start image."
            ),
            family="wan22",
            pipeline_class="WanPipeline",
            source="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
            tasks={Task.T2V: "WanPipeline", Task.I2V: "WanImageToVideoPipeline"},
            default_width=1280,
            default_height=704,
            sizes=((1280, 704), (704, 1280)),
            min_frames=5,
            max_frames=121,
            default_frames=121,
            frame_step=4,
            default_steps=50,
            max_steps=100,
            default_guidance=5.0,
            max_guidance=20.0,
            fps=24,
            fp32_components=("vae",),
            memory=MemoryNeeds(
                transformer_gb=9.4,  # 5.00 B parameters
                text_encoder_gb=_UMT5_XXL_GB,
                other_gb=2.7,  # the Wan 2.2 VAE in fp32: 0.70 B parameters
                # 27,280 tokens, each with its own fp32 timestep modulation: traced 5.09 GiB.
                activation_gb=5.3,
                # 21.4; measured 21.2. Decoded frame by frame, gathered in fp32 as Wan 2.1's.
                decode_gb=_decode_gb(1280, 704, 121, chunk_gb_per_mp=21.0, voxel_bytes=24),
                tiled_decode_gb=6.9,  # traced 5.71 GiB
                blocks=30,
                step_s=2.42,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_UMT5_LEAF_GB,
            ),
        ),
        Preset(
            id="ltx-video",
            label="LTX-Video 2B (fast, 25 fps)",
            description=(
                "Lightricks' LTX-Video: quick 768×512-class clips at 25 fps from a prompt or "
                "a start image; up to 10 seconds."
            ),
            family="ltx",
            pipeline_class="LTXPipeline",
            source="Lightricks/LTX-Video",
            abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
            tasks={Task.T2V: "LTXPipeline", Task.I2V: "LTXImageToVideoPipeline"},
            default_width=704,
            default_height=480,
            sizes=((704, 480), (480, 704), (768, 512), (512, 768)),
            min_frames=9,
            max_frames=257,
            default_frames=161,
            frame_step=8,
            default_steps=50,
            max_steps=100,
            default_guidance=3.0,
            max_guidance=15.0,
            fps=25,
            call_defaults={"decode_timestep": 0.03, "decode_noise_scale": 0.025},
            memory=MemoryNeeds(
                transformer_gb=3.6,  # 1.92 B parameters
                text_encoder_gb=_T5_XXL_GB,
                other_gb=0.8,  # the VAE in bf16: 0.42 B parameters
                activation_gb=0.9,  # CFG in one batch of 2 × 6,930 tokens: traced 0.85 GiB
                # 5.3; measured 5.2. The whole clip at once: 104 bytes a voxel.
                decode_gb=_decode_gb(704, 480, 161, chunk_gb_per_mp=0, voxel_bytes=104),
                tiled_decode_gb=4.5,  # traced 3.69 GiB: two tiles across, every frame at once
                blocks=28,
                step_s=0.55,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_T5_LEAF_GB,
            ),
        ),
        Preset(
            id="hunyuanvideo-framepack",
            label="HunyuanVideo FramePack (long image-to-video, 30 fps)",
            description=(
                "FramePack on HunyuanVideo: animates a start image (optionally towards an end "
                "image) in sections, so long clips need no more memory than short ones."
            ),
            family="framepack",
            pipeline_class="HunyuanVideoFramepackPipeline",
            source="hunyuanvideo-community/HunyuanVideo",
            component_sources={
                "transformer": ("lllyasviel/FramePackI2V_HY", None),
                "image_encoder": ("lllyasviel/flux_redux_bfl", "image_encoder"),
                "feature_extractor": ("lllyasviel/flux_redux_bfl", "feature_extractor"),
            },
            abilities=frozenset({Ability.TEXT, Ability.IMAGE, Ability.END_IMAGE}),
            tasks={Task.I2V: "HunyuanVideoFramepackPipeline"},
            default_width=480,
            default_height=832,
            sizes=((480, 832), (832, 480), (640, 640)),
            min_frames=9,
            max_frames=601,
            default_frames=121,
            frame_step=4,
            default_steps=25,
            max_steps=50,
            default_guidance=10.0,
            max_guidance=32.0,
            fps=30,
            call_defaults={"sampling_type": "inverted_anti_drifting"},
            memory=MemoryNeeds(
                transformer_gb=24.0,  # 12.87 B parameters
                text_encoder_gb=14.3,  # Llama 3 8B (7.51 B parameters) and CLIP-L's text tower
                other_gb=0.5,  # the HunyuanVideo VAE in bf16: 0.25 B parameters
                image_encoder_gb=0.8,  # SigLIP so400m: 0.43 B parameters
                # One section: 14,040 tokens and the clean and history latents: traced 1.99 GiB.
                activation_gb=2.1,
                # 22.6; measured 22.2. Sections are decoded as they are made and blended into
                # the history video (bf16), held up to three times while a section is blended
                # in: 121 frames make 4 sections of 36 frames and the start frame, 145 in all.
                decode_gb=_decode_gb(
                    480, 832, 145, chunk_gb_per_mp=_HUNYUAN_VAE_CHUNK_GB_PER_MP, voxel_bytes=18
                ),
                tiled_decode_gb=4.1,  # traced 2.61 GiB a section, and the history video
                blocks=60,
                step_s=9.45,  # measured: one step of every section of a 121-frame job (4 sections)
                encoder_leaf_gb=1.1,  # Llama's embedding, 128,320 × 4,096: 0.98 GiB
            ),
        ),
        Preset(
            id="cogvideox-5b",
            label="CogVideoX 5B (720×480, 8 fps; text or video to video)",
            description=(
                "THUDM's CogVideoX 5B: 6 second 720×480 clips at 8 fps from a prompt, or an "
                "input video restyled as the prompt says."
            ),
            family="cogvideox",
            pipeline_class="CogVideoXPipeline",
            source="THUDM/CogVideoX-5b",
            abilities=frozenset({Ability.TEXT, Ability.VIDEO}),
            tasks={Task.T2V: "CogVideoXPipeline", Task.V2V: "CogVideoXVideoToVideoPipeline"},
            default_width=720,
            default_height=480,
            sizes=((720, 480),),
            min_frames=9,
            max_frames=49,
            default_frames=49,
            frame_step=8,
            default_steps=50,
            max_steps=100,
            default_guidance=6.0,
            max_guidance=20.0,
            fps=8,
            max_input_frames=49,
            memory=MemoryNeeds(
                transformer_gb=10.4,  # 5.57 B parameters
                text_encoder_gb=_T5_XXL_GB,
                other_gb=0.4,  # the VAE in bf16: 0.22 B parameters
                activation_gb=2.8,  # CFG in one batch of 2 × 17,776 tokens: traced 2.64 GiB
                # 15.0; measured 14.8. Two latent frames at a time, gathered in bf16.
                decode_gb=_decode_gb(720, 480, 49, chunk_gb_per_mp=42.6, voxel_bytes=12),
                tiled_decode_gb=4.6,  # traced 3.77 GiB
                blocks=42,
                step_s=1.82,  # measured on an H200 (docs/performance.md)
                encoder_leaf_gb=_T5_LEAF_GB,
            ),
        ),
        Preset(
            id="kandinsky5-lite-t2v",
            label="Kandinsky 5 Lite text-to-video 2B (24 fps)",
            description=(
                "Kandinsky 5.0 Video Lite, the diffusers successor of Kandinsky 4 Flash: "
                "5 second clips at 24 fps from a prompt."
            ),
            family="kandinsky5",
            pipeline_class="Kandinsky5T2VPipeline",
            source="kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers",
            abilities=_TEXT_ONLY,
            tasks={Task.T2V: "Kandinsky5T2VPipeline"},
            default_width=768,
            default_height=512,
            sizes=((768, 512), (512, 768), (512, 512)),
            min_frames=5,
            max_frames=121,
            default_frames=121,
            frame_step=4,
            default_steps=50,
            max_steps=100,
            default_guidance=5.0,
            max_guidance=20.0,
            fps=24,
            memory=MemoryNeeds(
                transformer_gb=4.3,  # 2.01 B parameters, its modulation layers in fp32
                text_encoder_gb=15.7,  # Qwen2.5-VL 7B (8.29 B parameters) and CLIP-L's text tower
                other_gb=0.5,  # the HunyuanVideo VAE in bf16: 0.25 B parameters
                activation_gb=2.2,  # 47,616 tokens: traced 2.09 GiB
                # 21.8; measured 21.7.
                decode_gb=_decode_gb(
                    768, 512, 121, chunk_gb_per_mp=_HUNYUAN_VAE_CHUNK_GB_PER_MP, voxel_bytes=12
                ),
                tiled_decode_gb=3.3,  # traced 2.75 GiB
                blocks=34,
                step_s=3.70,  # measured on an H200 (docs/performance.md)
                # Qwen's embedding, 152,064 × 3,584: 1.02 GiB (its output head is as large).
                encoder_leaf_gb=1.2,
            ),
        ),
    )
}


def get_preset(preset_id: str) -> Preset:
    """Look a preset up by id; KeyError names the known ids."""
    try:
        return CATALOGUE[preset_id]
    except KeyError:
        known = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"unknown preset {preset_id!r}; known presets: {known}") from None
