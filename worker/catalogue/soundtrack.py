"""Soundtrack models: text-to-audio pipelines that make a sound for a silent video from what a
person writes ("Add sound" on a video's page; worker.editing.soundtrack runs them).

No video-to-audio model installs from diffusers 0.42 (MMAudio's VAE and vocoder come only
inside Kandinsky 6's pipeline, with no pipeline of their own), so the sound follows the prompt
and the video's length, not its pictures.

Plain data at import: diffusers, transformers and torch only inside the builders. A soundtrack
model is a diffusers pipeline folder (model_index.json), installed into
`$FRAMECRAFT_MODELS_DIR/<id>` or the Hugging Face cache as presets are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Scale
from .demo import demo_label
from .install import MODELS_DIR_ENV, checkpoint_complete, demo_models_enabled, hf_cached_snapshot


@dataclass(frozen=True, kw_only=True)
class SoundtrackModel:
    """One text-to-audio checkpoint: `pipeline_class` (diffusers) loaded from its folder.

    `weights_gb` is its parameters' bytes as it runs on a GPU (bf16), from the architecture's
    parameter count; `min_vram_gb` adds the sampler's and the decoder's working memory, which
    is small for sound (a minute at 44.1 kHz is 646 latent frames)."""

    id: str
    label: str
    description: str
    pipeline_class: str
    source: str | None
    sample_rate: int
    default_steps: int
    max_steps: int
    default_guidance: float
    max_guidance: float
    # The longest sound it makes in one go (its duration conditioning's range, and what the
    # worker holds while decoding): longer videos are refused.
    max_seconds: float
    weights_gb: float
    min_vram_gb: float
    builtin: bool = False

    def __post_init__(self) -> None:
        if self.builtin == (self.source is not None):
            raise ValueError(f"soundtrack model {self.id}: built-in models have no source, "
                             "others need one")

    def local_dir(self) -> Path | None:
        root = os.environ.get(MODELS_DIR_ENV)
        return Path(root) / self.id if root else None

    def installed_path(self) -> Path | None:
        """The folder holding the complete pipeline (models folder first, then the HF cache);
        None for a built-in one. Never touches the network."""
        if self.source is None:
            return None
        local = self.local_dir()
        if local is not None and checkpoint_complete(local):
            return local
        snapshot = hf_cached_snapshot(self.source)
        return snapshot if snapshot is not None and checkpoint_complete(snapshot) else None

    def is_installed(self) -> bool:
        """A built-in one while the demo models are on, any other once installed."""
        if self.builtin:
            return demo_models_enabled()
        return self.installed_path() is not None


# Stable Audio 3 Medium, as diffusers' classes default to it: a 1.45 B-parameter DiT (1536
# wide, 24 blocks), the SAME-L autoencoder (0.85 B: 256 channels, 12 layers; 44.1 kHz stereo,
# 4096 samples a latent frame) and T5Gemma b-b's encoder (0.31 B, 768 wide, 12 layers):
# 2.61 B parameters, 5.2 GB in bf16. Distilled: 8 steps without guidance.
STABLE_AUDIO_3 = SoundtrackModel(
    id="stable-audio-3-medium", label="Stable Audio 3 Medium",
    description="Stability AI's text-to-audio model (distilled rectified flow, 8 steps): "
                "stereo sound at 44.1 kHz from a description, up to six minutes long.",
    pipeline_class="StableAudio3Pipeline", source="stabilityai/stable-audio-3-medium",
    sample_rate=44100, default_steps=8, max_steps=100, default_guidance=1.0,
    max_guidance=10.0, max_seconds=120.0, weights_gb=5.3, min_vram_gb=7.0,
)

DEMO_SOUNDTRACK = SoundtrackModel(
    id="demo-stable-audio", label=demo_label("adding sound"),
    description="A toy-sized Stable Audio 3 (its DiT, SAME autoencoder and T5Gemma encoder) "
                "with random weights: Add sound runs on any machine, and its sound is noise.",
    pipeline_class="StableAudio3Pipeline", source=None, sample_rate=16000,
    default_steps=4, max_steps=50, default_guidance=1.0, max_guidance=10.0,
    max_seconds=30.0, weights_gb=0.01, min_vram_gb=0.1, builtin=True,
)

# Real models first: `soundtrack_model` prefers them to the demo.
SOUNDTRACK_MODELS: dict[str, SoundtrackModel] = {
    model.id: model for model in (STABLE_AUDIO_3, DEMO_SOUNDTRACK)}


def soundtrack_model() -> SoundtrackModel:
    """The model Add sound uses: the first installed real one, else the demo (while demo
    models are on), else the first real one (what an admin would install)."""
    ordered = sorted(SOUNDTRACK_MODELS.values(), key=lambda model: model.builtin)
    return next((model for model in ordered if model.is_installed()), STABLE_AUDIO_3)


def build_soundtrack(model_id: str, scale: Scale = "tiny") -> dict[str, Any]:
    """The pipeline's components with random weights: toy widths, or the real architecture."""
    import torch
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import (
        StableAudio3DurationEmbedder,
    )
    from transformers import T5GemmaConfig, T5GemmaEncoderModel, T5GemmaModuleConfig

    from .tokenizer import build_tokenizer

    model = SOUNDTRACK_MODELS[model_id]
    tokenizer = build_tokenizer(model_max_length=256 if scale == "full" else 64)
    if scale == "full":
        encoder = T5GemmaModuleConfig(vocab_size=len(tokenizer), hidden_size=768,
                                      intermediate_size=3072, num_hidden_layers=12,
                                      num_attention_heads=12, num_key_value_heads=12,
                                      head_dim=64)
        vae = AutoencoderSAME(encoder_channels=256, encoder_transformer_depths=(12,),
                              sampling_rate=model.sample_rate)
        transformer = StableAudio3DiTModel()
        duration = StableAudio3DurationEmbedder()
    else:
        # 64 samples a latent frame: a few seconds are a few hundred latent frames.
        encoder = T5GemmaModuleConfig(vocab_size=len(tokenizer), hidden_size=16,
                                      intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        vae = AutoencoderSAME(patch_size=16, encoder_channels=8, encoder_c_mults=(2,),
                              encoder_strides=(4,), encoder_transformer_depths=(1,),
                              latent_dim=8, dim_heads=8, sampling_rate=model.sample_rate)
        transformer = StableAudio3DiTModel(io_channels=8, embed_dim=16, depth=1, num_heads=2,
                                           cond_token_dim=16, global_cond_dim=16,
                                           local_add_cond_dim=9, timestep_features_dim=16,
                                           num_memory_tokens=2)
        duration = StableAudio3DurationEmbedder(output_dim=16, fourier_dim=16)
    text_encoder = T5GemmaEncoderModel(T5GemmaConfig(
        encoder=encoder.to_dict(), decoder=encoder.to_dict(), is_encoder_decoder=False))
    for module in (vae, transformer, duration, text_encoder):
        module.eval().requires_grad_(False)
    if scale != "full":
        with torch.no_grad():  # zero-initialised output convs would make silence
            transformer.postprocess_conv.weight.normal_(0.0, 0.5)
    return {"vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "duration_embedder": duration, "transformer": transformer,
            "scheduler": FlowMatchEulerDiscreteScheduler(stochastic_sampling=True)}


def save_soundtrack(model_id: str, folder: Path, scale: Scale = "tiny", seed: int = 0) -> Path:
    """A random checkpoint in the Hub's folder layout, as `from_pretrained` reads it."""
    import diffusers
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        components = build_soundtrack(model_id, scale)
    pipeline_class = getattr(diffusers, SOUNDTRACK_MODELS[model_id].pipeline_class)
    pipeline_class(**components).save_pretrained(folder)
    return folder
