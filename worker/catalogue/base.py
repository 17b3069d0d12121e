"""The catalogue's vocabulary: what a preset can take and do, its limits and memory needs, and
what a model family provides (its presets, its random-weight builder, its call adapter).

Plain data: importable without torch, numpy or Django (the web tier builds its forms from it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .install import (
    MODELS_DIR_ENV,
    checkpoint_complete,
    demo_models_enabled,
    hf_cached_file,
    hf_cached_snapshot,
)
from .request import EXPERTS

if TYPE_CHECKING:
    from .calls import CallAdapter

# How large a random-weight build is: toy widths for tests and the `tiny` preset, or the
# checkpoint's real architecture numbers for benchmarks.
Scale = Literal["tiny", "full"]


class Ability(StrEnum):
    """An input a preset can take."""

    TEXT = "text"
    IMAGE = "image"
    END_IMAGE = "end_image"
    VIDEO = "video"
    MASK = "mask"
    REFERENCE = "reference"
    KEYFRAMES = "keyframes"  # images placed at chosen frames of an image-to-video clip


class Task(StrEnum):
    """What a job asks of a preset; each task needs some inputs (`TASK_INPUTS`)."""

    T2V = "t2v"  # a prompt alone
    I2V = "i2v"  # a start image, and an end image where the preset takes one
    V2V = "v2v"  # an input video restyled or transformed as the prompt says
    EDIT = "edit"  # the masked part of an input video repainted
    EXTEND = "extend"  # an input video continued past its last frame
    PERSONALIZE = "personalize"  # a subject from reference photos, placed as the prompt says
    CONTROL = "control"  # an input video's motion and layout (a control track), all else new
    UPSCALE = "upscale"  # an input video at 2x or 4x its size, frame by frame (a helper model)
    SOUNDTRACK = "soundtrack"  # an input video's frames kept, a sound made from a prompt added


# Tasks a helper model runs (catalogue/helpers.py) rather than a preset's pipeline.
HELPER_TASKS: frozenset[Task] = frozenset({Task.UPSCALE, Task.SOUNDTRACK})


TASK_INPUTS: dict[Task, frozenset[Ability]] = {
    Task.T2V: frozenset({Ability.TEXT}),
    Task.I2V: frozenset({Ability.TEXT, Ability.IMAGE}),
    Task.V2V: frozenset({Ability.TEXT, Ability.VIDEO}),
    Task.EDIT: frozenset({Ability.TEXT, Ability.VIDEO, Ability.MASK}),
    Task.EXTEND: frozenset({Ability.TEXT, Ability.VIDEO}),
    Task.PERSONALIZE: frozenset({Ability.TEXT, Ability.REFERENCE}),
    Task.CONTROL: frozenset({Ability.TEXT, Ability.VIDEO}),
    Task.UPSCALE: frozenset({Ability.VIDEO}),
    Task.SOUNDTRACK: frozenset({Ability.TEXT, Ability.VIDEO}),
}

TASK_LABELS: dict[Task, str] = {
    Task.T2V: "text to video",
    Task.I2V: "image to video",
    Task.V2V: "video to video",
    Task.EDIT: "video editing",
    Task.EXTEND: "video extension",
    Task.PERSONALIZE: "personalization",
    Task.CONTROL: "motion transfer",
    Task.UPSCALE: "upscaling",
    Task.SOUNDTRACK: "sound added",
}


@dataclass(frozen=True, kw_only=True)
class MemoryNeeds:
    """What a preset needs of GPU memory, in GiB, at its default size with bf16 weights.

    Calibrated against the H200 peaks in docs/performance.json (torch.cuda.max_memory_allocated
    over a whole job, written by bench/gpu_profiles.py), so that no measured profile is
    predicted below its peak:

    - weights are the parameter bytes of the architectures the benchmark builds (each family
      module's builder): bf16, fp32 where the preset keeps a component in fp32.
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
    # Denoisers of equal size that take turns (Wan 2.2 A14B: a high-noise expert for the first
    # steps, a low-noise one after its boundary); `transformer_gb` is all of them, `blocks` and
    # `step_s` are one's. Only one runs at a time, so offloading plans hold one.
    experts: int = 1

    @property
    def weights_gb(self) -> float:
        return self.transformer_gb + self.text_encoder_gb + self.image_encoder_gb + self.other_gb

    @property
    def expert_gb(self) -> float:
        """One denoiser's weights: what runs at any one step."""
        return self.transformer_gb / max(1, self.experts)

    @property
    def block_gb(self) -> float:
        return self.expert_gb / max(1, self.blocks)

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


@dataclass(frozen=True)
class LoraWeights:
    """One LoRA file of a Hub repository (`filename` may name a folder of it), fused into its
    base preset's denoisers at load: those `expert` names (one of EXPERTS) where the base has
    two experts (Wan 2.2 A14B), its only one otherwise."""

    repo: str
    filename: str
    scale: float = 1.0
    expert: str = "both"


@dataclass(frozen=True, kw_only=True)
class Parallelism:
    """How a preset's denoiser spreads over several GPUs of one host (diffusers context
    parallelism), and from what job size that pays.

    `gpu_counts` are the group sizes it scales to besides one. A job goes on n GPUs only when
    each keeps at least `min_tokens_per_gpu` of the denoiser's tokens: below that, the
    per-layer exchanges cost more than the split compute saves. `efficiency` is the speed-up
    per GPU measured at a size that pays (one forward of Wan 2.1 14B at 1280x720x81 on H200s:
    1.91x on 2, 3.77x on 4). `latent` is the token grid's compression: frames per latent
    frame, and pixels per token side (VAE stride times patch size).
    """

    gpu_counts: tuple[int, ...]
    heads: int
    min_tokens_per_gpu: int
    efficiency: Mapping[int, float] = field(default_factory=dict)
    latent: tuple[int, int] = (4, 16)

    def tokens(self, width: int, height: int, frames: int) -> int:
        """The denoiser's sequence length for a job of this size."""
        temporal, spatial = self.latent
        return ((frames - 1) // temporal + 1) * (height // spatial) * (width // spatial)


@dataclass(frozen=True, kw_only=True)
class Preset:
    """One model the studio can run, with the limits users may pick within.

    `pipeline_class` is the class the checkpoint is loaded as; `tasks` names, per task, the
    diffusers class that runs it, built from the same loaded components (`cache.sibling`).
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
    # An image-to-video model that animates between two images only (Wan 2.1 FLF2V: its
    # image tokens come in pairs); others take an end image, if at all, as an option.
    requires_end_image: bool = False
    # Keyframes (images at chosen frames, each with a strength) for image-to-video: how many,
    # and the pipeline class that takes them (built from the same components).
    max_keyframes: int = 0
    keyframe_pipeline_class: str | None = None
    # A step-distilled variant of another preset (its Preview speed mode): never offered as a
    # model of its own. A LoRA variant loads its base preset's weights and fuses its `loras`
    # (one, or one per expert), installed as its own files.
    preview_of: str | None = None
    loras: tuple[LoraWeights, ...] = ()
    # The scheduler this preset runs with, when not the checkpoint's: a diffusers class name
    # and the settings that differ from the loaded scheduler's config.
    scheduler_class: str | None = None
    scheduler_config: Mapping[str, Any] = field(default_factory=dict)
    # Several GPUs of a host for one job; None: one GPU always.
    parallelism: Parallelism | None = None
    # It makes a sound track with the picture (an audio VAE and a vocoder): its jobs offer a
    # "with sound" switch and its videos carry AAC audio.
    makes_sound: bool = False
    # Whether people's LoRAs may target it. The demo presets exist to try the studio's tasks;
    # LoRAs are tried on `tiny`, whose toy transformer the Wan demos share.
    takes_loras: bool = True

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
        if self.requires_end_image and Ability.END_IMAGE not in self.abilities:
            raise ValueError(f"preset {self.id}: it requires an end image it does not take")
        if (Ability.KEYFRAMES in self.abilities) != (
                self.max_keyframes > 0 and self.keyframe_pipeline_class is not None):
            raise ValueError(f"preset {self.id}: keyframes need max_keyframes and "
                             "keyframe_pipeline_class, and only keyframes do")
        if Ability.VIDEO in self.abilities and self.max_input_frames < 1:
            raise ValueError(f"preset {self.id}: video input needs max_input_frames")
        if self.loras and self.preview_of is None:
            raise ValueError(f"preset {self.id}: a LoRA variant names the preset it fuses into")
        for lora in self.loras:
            if lora.expert not in EXPERTS:
                raise ValueError(f"preset {self.id}: {lora.filename} names the expert "
                                 f"{lora.expert!r}; experts are {', '.join(EXPERTS)}")

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
        """One line for people: every size offered, longest clip, most steps."""
        sizes = [f"{width}×{height}" for width, height in self.sizes]
        offered = sizes[0] if len(sizes) == 1 else f"{', '.join(sizes[:-1])} or {sizes[-1]}"
        seconds = self.duration_s(self.max_frames)
        return (
            f"{offered}; up to {self.max_frames} frames ({seconds:.1f} s at {self.fps} fps) "
            f"and {self.max_steps} steps; needs about {self.min_vram_gb:g} GB of GPU memory "
            "without offloading"
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

    def keyframe_frames(self, num_frames: int) -> tuple[int, ...]:
        """The frames a keyframe may sit on in a clip of `num_frames`: every `frame_step`-th
        (where a latent frame begins), after frame 0, which is the start image's."""
        return tuple(range(self.frame_step, num_frames, self.frame_step))

    def keyframe_errors(self, placed: Sequence[tuple[int, float]], num_frames: int) -> list[str]:
        """What is wrong with keyframes placed at (frame, strength), in order; empty if fine."""
        if not placed:
            return []
        if Ability.KEYFRAMES not in self.abilities:
            return [f"{self.label} takes no keyframes."]
        errors: list[str] = []
        if len(placed) > self.max_keyframes:
            errors.append(f"{self.label} takes at most {self.max_keyframes} keyframes; "
                          f"{len(placed)} were given.")
        last = num_frames - 1
        seen: dict[int, int] = {}
        for number, (frame, strength) in enumerate(placed, start=1):
            if type(frame) is not int:
                errors.append(f"Keyframe {number}'s frame must be a whole number.")
            elif frame == 0:
                errors.append(f"Keyframe {number} is at frame 0, the start image's; place "
                              f"keyframes from frame {self.frame_step} on.")
            elif not 0 < frame <= last:
                errors.append(f"Keyframe {number} is at frame {frame}, beyond the clip's last "
                              f"frame ({last}).")
            elif frame % self.frame_step:
                below = frame - frame % self.frame_step
                nearest = (f"{below} or {below + self.frame_step}" if below
                           else f"{self.frame_step}")
                errors.append(f"Keyframe {number} is at frame {frame}; keyframes sit on every "
                              f"{self.frame_step}th frame (try {nearest}).")
            elif frame in seen:
                errors.append(f"Keyframes {seen[frame]} and {number} are both at frame "
                              f"{frame}; one image a moment.")
            else:
                seen[frame] = number
            if isinstance(strength, bool) or not isinstance(strength, int | float) \
                    or not 0.0 <= strength <= 1.0:
                errors.append(f"Keyframe {number}'s strength must be between 0 and 1; "
                              f"{strength!r} is not.")
        return errors

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
        if self.loras:
            return self._base_installed_path() if self.lora_paths() is not None else None
        local = self.local_dir()
        if local is not None and checkpoint_complete(local):
            return local
        if self.component_sources:
            return None
        snapshot = hf_cached_snapshot(self.source)
        if snapshot is not None and checkpoint_complete(snapshot):
            return snapshot
        return None

    def lora_path(self, lora: LoraWeights) -> Path | None:
        """Where one of this variant's LoRA files is: in its folder of the models folder (at
        its path in its repository), or in the HF cache; None while it is not there."""
        local = self.local_dir()
        if local is not None and (local / lora.filename).is_file():
            return local / lora.filename
        return hf_cached_file(lora.repo, lora.filename)

    def lora_paths(self) -> list[Path] | None:
        """Every LoRA file of this variant, in `loras` order; None unless all are there."""
        paths = [self.lora_path(lora) for lora in self.loras]
        return [path for path in paths if path is not None] if None not in paths else None

    def _base_installed_path(self) -> Path | None:
        from . import get_preset  # the catalogue imports this module

        assert self.preview_of is not None
        return get_preset(self.preview_of).installed_path()

    def is_installed(self) -> bool:
        """Whether a worker can load this preset without downloading anything: a built-in
        one while the demo models are on (FRAMECRAFT_DEMO_MODELS), any other once installed."""
        if self.builtin:
            return demo_models_enabled()
        return self.installed_path() is not None


def preview_of(base: Preset, *, loras: Sequence[LoraWeights] = (), source: str | None = None,
               **changes: Any) -> Preset:
    """A Preview (step-distilled) variant of `base`: its limits, its own id and defaults; with
    `loras`, the base's weights with those fused in, else weights of its own (`source`)."""
    return replace(
        base, id=f"{base.id}-preview", label=f"{base.label}, Preview", preview_of=base.id,
        description=f"The step-distilled Preview of {base.label}.", loras=tuple(loras),
        source=source if source is not None else base.source, **changes)


TEXT_ONLY = frozenset({Ability.TEXT})


@dataclass(frozen=True, kw_only=True)
class Family:
    """One architecture family: its presets (in catalogue order), how to build any of them with
    random weights at a scale (components for the preset's `pipeline_class`, made with torch,
    diffusers and transformers imported inside), and how to call its pipelines."""

    name: str
    presets: tuple[Preset, ...]
    build: Callable[[str, Scale], dict[str, Any]]
    calls: CallAdapter
