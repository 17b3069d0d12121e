"""What a generation job asks for, what it reports while running, and what it returns: the
contract between the web tier, the catalogue's call adapters and the runtime. No torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

# The one seed limit, for the form and the runner alike: 32 bits, as most video tools show and
# take seeds (a torch generator would take 64).
MAX_SEED = 2**32 - 1


MEDIA_FIELDS = ("image", "end_image", "video", "mask", "reference_images", "keyframes")


@dataclass(frozen=True)
class Keyframe:
    """An image the clip should pass through at `frame` (0 is the start image's), steered
    there with `strength` (0..1)."""

    image: Any = field(repr=False)
    frame: int
    strength: float = 1.0


# Which denoisers of a two-expert model (Wan 2.2 A14B) a LoRA goes into: the high-noise
# expert's, the low-noise one's, or both. A model of one denoiser takes every LoRA into it.
EXPERTS = ("both", "high_noise", "low_noise")


@dataclass(frozen=True)
class LoraWeights:
    """A LoRA file on this worker's disk, the strength it is applied at, and its name (for the
    recipe). `key` identifies the file's content (its upload id): the worker keeps it loaded.
    `expert` is one of EXPERTS."""

    path: str
    strength: float
    name: str
    key: str
    expert: str = "both"


@dataclass(frozen=True)
class GenerationRequest:
    """A job's parameters, already chosen by the user or filled with defaults.

    `task` is a `Task` value. Media inputs are decoded already: images as PIL images
    or uint8 arrays (H, W, 3); `video` as uint8 frames (F, H, W, 3) or a list of images; `mask`
    as (F, H, W) arrays or a list of greyscale images, non-zero where the video is to be
    repainted; `reference_images` as a sequence of images; `keyframes` as `Keyframe`s (an
    image-to-video job's images at later frames, where the preset takes them). `strength`
    (0..1) says how far a video-to-video job may move from its input; None takes the preset's
    default. For motion
    transfer `video` is the control track already drawn, and `conditioning_scale` says how
    strictly it is followed (None: the pipeline's 1.0).
    """

    preset_id: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    steps: int
    guidance: float
    seed: int
    task: str = "t2v"
    image: Any = field(default=None, compare=False, repr=False)
    end_image: Any = field(default=None, compare=False, repr=False)
    video: Any = field(default=None, compare=False, repr=False)
    mask: Any = field(default=None, compare=False, repr=False)
    reference_images: Sequence[Any] = field(default=(), compare=False, repr=False)
    strength: float | None = None
    keyframes: Sequence[Keyframe] = field(default=(), compare=False, repr=False)
    speed: str = "quality"  # a SpeedMode value
    fp8: bool = False  # fp8 linear layers (torchao) where the GPU has them
    loras: tuple[LoraWeights, ...] = ()

    def lora_recipe(self) -> list[dict[str, Any]]:
        """The LoRAs as a recipe names them: name, strength and id, never the path."""
        return [{"name": lora.name, "strength": lora.strength, "id": lora.key,
                 **({"expert": lora.expert} if lora.expert != "both" else {})}
                for lora in self.loras]
    conditioning_scale: float | None = None

    def recipe(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict, e.g. for a video's metadata; media are only
        named (which inputs were given), never embedded."""
        recipe = {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in (*MEDIA_FIELDS, "loras")
        }
        if self.loras:
            recipe["loras"] = self.lora_recipe()
        given = [name for name in MEDIA_FIELDS if _given(getattr(self, name))]
        if given:
            recipe["inputs"] = given
        return recipe


def _given(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return len(value) > 0
    return True


@dataclass(frozen=True)
class StepInfo:
    """Progress after one denoising step; `latents` is the live tensor, so only read it."""

    step: int
    total: int
    elapsed_s: float
    latents: torch.Tensor | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AudioTrack:
    """A sound track: float32 samples in [-1, 1], shaped (channels, samples), at a rate."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int
    # Where it came from, for the recipe: the model, the source video, or both joined.
    origin: str = "model"

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return int(self.samples.shape[1]) / self.sample_rate

    def recipe(self) -> dict[str, Any]:
        """What a video's recipe says of its sound (the encoder writes it as AAC)."""
        return {"codec": "aac", "sample_rate": self.sample_rate, "channels": self.channels,
                "duration_s": round(self.duration_s, 4), "origin": self.origin}


@dataclass(frozen=True)
class GenerationResult:
    """Decoded frames (uint8, shape (F, H, W, 3)), the sound made with them (None: a silent
    video), and how the job went."""

    frames: np.ndarray = field(repr=False)
    fps: int
    timings: dict[str, float]
    device: str
    memory_profile: str
    vae_tiling: bool = False  # the decode ran in tiles (by the plan or for this job's size)
    # What the speed mode did: the preset it ran, steps, attention kernel, compile, skipped steps.
    speed: dict[str, Any] = field(default_factory=dict)
    audio: AudioTrack | None = field(default=None, repr=False)


class ErrorCode(StrEnum):
    """Status keys for failures; the web tier maps them to messages and retry rules."""

    OUT_OF_MEMORY = "out_of_memory"
    WEIGHTS_MISSING = "weights_missing"
    BAD_PARAMETERS = "bad_parameters"
    MODEL_ERROR = "model_error"


class GenerationError(Exception):
    """A job failed for a reason the user or an admin can act on."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(code, message)
        self.code = ErrorCode(code)
        self.message = message

    def __str__(self) -> str:
        return self.message


class JobCancelled(Exception):
    """Raised from an on_step callback to stop a job; the runner lets it through."""
