"""Kandinsky 6.0 Video: picture and sound made together (one transformer whose fused blocks
denoise a video stream and an audio stream side by side), from a prompt or a start image, at
24 fps: diffusers' `Kandinsky6TI2VAPipeline`, which does both tasks (the start image, when
given, is appended as a clean, masked tail frame). Qwen2.5-VL 7B and CLIP-L read the prompt;
the HunyuanVideo VAE decodes the picture, an MMAudio VAE and its BigVGAN vocoder the sound:
mono, 44.1 kHz in the real checkpoints, which the worker muxes into the MP4 as AAC.

Lite (3B) and Pro (29B), each with its step-distilled checkpoint as the Preview speed mode
(PiFlow: the distilled transformer predicts ten grid points a step, which `PiflowScheduler`
integrates; guidance must stay at 1).

Unlike LTX-2, the pipeline can leave the sound out (`sample_audio`); the worker asks for it
always, and "with sound" off leaves the track out of the video (the spec's switch): so a silent
video is the same picture as one with sound, and little is lost (the audio stream's 217 tokens
cost next to nothing beside the picture's 50,220).
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task, preview_of
from .calls import CallAdapter
from .components import clip_text, hunyuan_vae, qwen25_vl
from .figures import HUNYUAN_VAE_CHUNK_GB_PER_MP, decode_gb
from .request import AudioTrack, GenerationRequest
from .tokenizer import build_clip_tokenizer, build_tokenizer

LITE_ID = "kandinsky6-lite"
PRO_ID = "kandinsky6-pro"
PIPELINE = "Kandinsky6TI2VAPipeline"

# What the released transformers share (the authors' ComfyUI release contract): 40 audio
# latent channels, cross-modal RoPE and gates, text padding masks, the reference frame's
# token types. Lite and Pro differ in width and depth only.
SHARED_DIT: dict[str, Any] = {
    "in_visual_dim": 16, "in_text_dim": 3584, "in_text_dim2": 768, "patch_size": (1, 2, 2),
    "visual_cond": True, "in_audio_dim": 40, "audio_freqs_scaling": 0.144,
    "scale_factor": (1.0, 2.0, 2.0), "text_token_padding": True, "ca_rope": True,
    "cross_gates": True, "fix_modulation": True, "visual_token_type_num_embeddings": 2,
}
DIT: dict[str, dict[str, Any]] = {
    LITE_ID: {"time_dim": 512, "model_dim": 1792, "ff_dim": 7168, "num_text_blocks": 2,
              "num_visual_blocks": 32, "axes_dims": (16, 24, 24), "model_dim_a": 896,
              "time_dim_a": 512, "ff_dim_a": 3584, "axes_dims_a": (16, 24, 24)},
    PRO_ID: {"time_dim": 1024, "model_dim": 4096, "ff_dim": 16384, "num_text_blocks": 4,
             "num_visual_blocks": 60, "axes_dims": (32, 48, 48), "model_dim_a": 2048,
             "time_dim_a": 1024, "ff_dim_a": 7168, "axes_dims_a": (32, 48, 48)},
}
# The distilled transformers predict this many PiFlow grid points per latent channel.
N_GRID = 10
# The audio VAE's latent scale: the SFT checkpoints' (Lite, Pro), and the distilled ones'.
AUDIO_SCALING = {"base": 0.5302, "distilled": 0.417}

# Qwen2.5-VL 7B (8.29 B parameters, its vision tower included: the checkpoint ships it) and
# CLIP-L's text tower (0.12 B), bf16.
ENCODERS_GB = 15.7
# Qwen's embedding, 152,064 x 3,584 (1.02 GiB), and the encoding's working memory: the prompt
# is padded to 1,153 tokens.
ENCODER_LEAF_GB = 1.2
# The HunyuanVideo VAE (0.25 B), the MMAudio VAE (0.31 B, its encoder included) and the
# vocoder (0.12 B), bf16.
OTHER_GB = 1.3

K6_LIMITS: dict[str, Any] = {
    "family": "kandinsky6",
    "pipeline_class": PIPELINE,
    "abilities": frozenset({Ability.TEXT, Ability.IMAGE}),
    "tasks": {Task.T2V: PIPELINE, Task.I2V: PIPELINE},
    # Trained at 864x480 (every example of the model cards); sides in steps of 16.
    "default_width": 864,
    "default_height": 480,
    "sizes": ((864, 480), (480, 864), (768, 512), (512, 768)),
    # 5 seconds at 24 fps: the released checkpoints are all 5 s ones.
    "min_frames": 5,
    "max_frames": 121,
    "default_frames": 121,
    "frame_step": 4,
    # The SFT checkpoints' settings (model cards): 50 steps at guidance 5.
    "default_steps": 50,
    "max_steps": 100,
    "default_guidance": 5.0,
    "max_guidance": 20.0,
    "fps": 24,
    "makes_sound": True,
    # diffusers 0.42 gives the pipeline no LoRA loader.
    "takes_loras": False,
}


def k6_memory(preset_id: str) -> MemoryNeeds:
    """At 864x480x121 (31 latent frames of 30 x 54 tokens: 50,220 video tokens, 217 audio
    ones): estimates from the architecture, not yet measured on a GPU (bench/gpu_profiles.py
    would calibrate them). Weights are the parameter bytes of the full build in bf16, counted
    on the meta device."""
    lite = preset_id == LITE_ID
    return MemoryNeeds(
        # 3.18 B parameters (Lite) and 30.1 B (Pro, 56 GiB as its authors' demo says), the
        # video and audio streams together.
        transformer_gb=6.0 if lite else 56.2,
        text_encoder_gb=ENCODERS_GB,
        other_gb=OTHER_GB,
        # Kandinsky 5 Lite's 2.2 GiB at 47,616 tokens x 1,792, scaled by tokens and width.
        activation_gb=2.4 if lite else 5.4,
        decode_gb=decode_gb(864, 480, 121, chunk_gb_per_mp=HUNYUAN_VAE_CHUNK_GB_PER_MP,
                            voxel_bytes=12),
        tiled_decode_gb=3.5,  # Kandinsky 5's (the same VAE) at this frame area
        blocks=DIT[preset_id]["num_visual_blocks"],
        # Kandinsky 5 Lite's measured 3.70 s (both CFG passes, H200) scaled by the FLOPs of a
        # step: the video stream's linears over 50,220 tokens and its self-attention.
        step_s=4.2 if lite else 21.6,
        encoder_leaf_gb=ENCODER_LEAF_GB,
    )


BASE_PRESETS = (
    Preset(
        id=LITE_ID,
        label="Kandinsky 6 Lite 3B (video with sound, 24 fps)",
        description=(
            "Kandinsky Lab's Kandinsky 6.0 Video Lite: 5 second clips with their sound "
            "(speech with lip-sync, music, ambience) made together, from a prompt or a start "
            "image, at 24 fps."
        ),
        source="kandinskylab/Kandinsky-6.0-Lite-5s-Diffusers",
        **K6_LIMITS,
        memory=k6_memory(LITE_ID),
    ),
    Preset(
        id=PRO_ID,
        label="Kandinsky 6 Pro 29B (video with sound, 24 fps)",
        description=(
            "Kandinsky 6.0 Video Pro: the larger model, 5 second clips with their sound from a "
            "prompt or a start image; a gated repository (accept its licence on the Hub)."
        ),
        source="kandinskylab/Kandinsky-6.0-Pro-5s-Diffusers",
        **K6_LIMITS,
        memory=k6_memory(PRO_ID),
    ),
)
# The distilled checkpoints: 10 steps at guidance 1 with their PiflowScheduler (their model
# cards and the authors' configs; the pipeline's docstring still says 16, a leftover its
# authors corrected in review). Guidance above 1 is refused: the distilled model has no CFG.
DISTILLED = {
    LITE_ID: "kandinskylab/Kandinsky-6.0-Lite-distill-5s-Diffusers",
    PRO_ID: "kandinskylab/Kandinsky-6.0-Pro-distill-5s-Diffusers",
}
PRESETS = (
    *BASE_PRESETS,
    *(preview_of(base, source=DISTILLED[base.id], default_steps=10,
                 default_guidance=1.0, max_guidance=1.0)
      for base in BASE_PRESETS),
)


def build_kandinsky6(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        Kandinsky6Transformer3DModel,
        MMAudioVAE,
        MMAudioVocoder,
        PiflowScheduler,
    )

    from . import get_preset  # the catalogue imports this module

    preset = get_preset(preset_id)
    base = preset.preview_of or preset.id
    grid = N_GRID if preset.preview_of else 1
    scheduler: Any = (PiflowScheduler(shift=5.0, n_grid=N_GRID) if preset.preview_of
                      else FlowMatchEulerDiscreteScheduler(shift=5.0))
    scaling = AUDIO_SCALING["distilled" if preset.preview_of else "base"]
    tokenizer = build_tokenizer()
    if scale == "tiny":
        # Heads 24 wide in both streams, as the real ones share a width (the cross-modal
        # attention rotates the other stream's keys); two video heads, one audio head; two
        # fused blocks, so Balanced's step cache has one to skip.
        transformer = Kandinsky6Transformer3DModel(
            **{**SHARED_DIT, "in_visual_dim": 4, "in_text_dim": 16, "in_text_dim2": 32,
               "in_audio_dim": 4},
            out_visual_dim=4 * grid, out_audio_dim=4 * grid, time_dim=32, model_dim=48,
            ff_dim=128, num_text_blocks=1, num_visual_blocks=2, axes_dims=(8, 8, 8),
            model_dim_a=24, time_dim_a=32, ff_dim_a=64, axes_dims_a=(8, 8, 8),
        )
        # A mel hop of 16 samples (32 a latent frame: the encoder halves the mel frames) and a
        # vocoder that upsamples by 16: the sound lasts as long as the clip, as the real
        # pair's 512-sample hop and 512x vocoder make it.
        audio_vae = MMAudioVAE(
            mel_bins=8, latent_channels=4, hidden_channels=8, channel_multipliers=(1, 2),
            layers_per_block=1, sample_rate=16000, n_fft=64, hop_length=16,
            scaling_factor=scaling,
        )
        vocoder = MMAudioVocoder(
            num_mels=8, upsample_initial_channel=16, upsample_rates=(4, 4),
            upsample_kernel_sizes=(8, 8), resblock_kernel_sizes=(3,),
            resblock_dilation_sizes=((1, 3, 5),),
        )
    else:  # the classes' defaults are the released audio VAE (44.1 kHz) and vocoder
        transformer = Kandinsky6Transformer3DModel(
            **SHARED_DIT, **DIT[base], out_visual_dim=16 * grid, out_audio_dim=40 * grid)
        audio_vae = MMAudioVAE(scaling_factor=scaling)
        vocoder = MMAudioVocoder()
    return {
        "tokenizer": tokenizer,
        "text_encoder": qwen25_vl(scale),
        "tokenizer_2": build_clip_tokenizer(),
        "text_encoder_2": clip_text(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": hunyuan_vae(scale),
        "audio_vae": audio_vae,
        "vocoder": vocoder,
        "scheduler": scheduler,
    }


class Kandinsky6Calls(CallAdapter):
    """Kandinsky 6 is told the frame rate (its sound's length follows from it); its output
    carries the waveform beside the frames: mono, at its audio VAE's sampling rate."""

    def pipeline_kwargs(self, preset: Preset, request: GenerationRequest) -> dict[str, Any]:
        return {**super().pipeline_kwargs(preset, request), "frame_rate": float(preset.fps)}

    def audio(self, pipeline: Any, output: Any) -> AudioTrack | None:
        waveform = getattr(output, "audio", None)
        if waveform is None:
            return None
        samples = waveform[0].float().cpu().numpy()[None]  # (1 channel, samples)
        return AudioTrack(samples, int(pipeline.audio_sample_rate))


FAMILY = Family(name="kandinsky6", presets=PRESETS, build=build_kandinsky6,
                calls=Kandinsky6Calls())
