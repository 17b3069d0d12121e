"""Wan 2.1 image-to-video 14B (480p and 720p): a start image (CLIP-encoded too) and a prompt;
and its first-last-frame sibling (FLF2V, 720p), which also takes an end image.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, LoraWeights, MemoryNeeds, Preset, Scale, Task, preview_of
from .calls import CallAdapter
from .demo import DEMO_LIMITS, demo_description, demo_label
from .figures import WAN21_DECODE, decode_gb
from .wan import (
    LIGHTX2V_4STEP,
    WAN21_ENCODERS,
    WAN_480P,
    WAN_720P,
    WAN_COMMON,
    build_wan,
    wan_dims,
)

# What both image-to-video presets share: Wan 2.1's limits, its image encoder kept in fp32 too.
WAN_I2V_COMMON: dict[str, Any] = {
    **WAN_COMMON,
    "family": "wan_i2v",
    "pipeline_class": "WanImageToVideoPipeline",
    "abilities": frozenset({Ability.TEXT, Ability.IMAGE}),
    "tasks": {Task.I2V: "WanImageToVideoPipeline"},
    "fp32_components": ("vae", "image_encoder"),
}
# One checkpoint at two resolutions: the same weights.
WAN_I2V_WEIGHTS: dict[str, Any] = {
    **WAN21_ENCODERS,
    "transformer_gb": 30.6,  # 16.39 B parameters
    "image_encoder_gb": 2.4,  # OpenCLIP ViT-H/14 in fp32: 0.63 B parameters
    "blocks": 40,
}

FLF2V = "wan2.1-flf2v-14b-720p"

BASE_PRESETS = (
    Preset(
        id="wan2.1-i2v-14b-480p",
        label="Wan 2.1 image-to-video 14B (480p)",
        description=(
            "Animates a start image into a 5 second 480p clip at 16 fps, following the "
            "prompt; needs a data-centre GPU or offload."
        ),
        **WAN_I2V_COMMON,
        source="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        default_width=832,
        default_height=480,
        sizes=WAN_480P,
        memory=MemoryNeeds(
            **WAN_I2V_WEIGHTS,
            activation_gb=3.6,  # 32,760 tokens and 257 image tokens: traced 3.50 GiB
            # 9.1; measured 9.0, with the VAE encode of the conditioning video.
            decode_gb=decode_gb(832, 480, 81, **WAN21_DECODE),
            tiled_decode_gb=2.1,  # as Wan 2.1 T2V 1.3B
            step_s=6.6,
        ),
    ),
    Preset(
        id="wan2.1-i2v-14b-720p",
        label="Wan 2.1 image-to-video 14B (720p)",
        description=(
            "Animates a start image into a 5 second 720p clip at 16 fps, following the "
            "prompt; needs a data-centre GPU or offload."
        ),
        **WAN_I2V_COMMON,
        source="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        default_width=1280,
        default_height=720,
        sizes=WAN_720P,
        memory=MemoryNeeds(
            **WAN_I2V_WEIGHTS,
            activation_gb=8.3,  # 75,600 tokens and 257 image tokens: traced 8.05 GiB
            decode_gb=decode_gb(1280, 720, 81, **WAN21_DECODE),  # 20.9; measured 20.5
            tiled_decode_gb=4.7,  # as Wan 2.1 T2V 14B
            step_s=24.5,
        ),
    ),
    Preset(
        id="wan2.1-flf2v-14b-720p",
        label="Wan 2.1 first-last-frame to video 14B (720p)",
        description=(
            "Animates from a start image to an end image into a 5 second 720p clip at 16 fps, "
            "following the prompt; needs a data-centre GPU or offload."
        ),
        **{**WAN_I2V_COMMON,
           "abilities": frozenset({Ability.TEXT, Ability.IMAGE, Ability.END_IMAGE})},
        source="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        requires_end_image=True,
        default_width=1280,
        default_height=720,
        sizes=WAN_720P,
        # The I2V 720p architecture (one more learnt image position table): its figures.
        memory=MemoryNeeds(
            **WAN_I2V_WEIGHTS,
            activation_gb=8.3,
            decode_gb=decode_gb(1280, 720, 81, **WAN21_DECODE),
            tiled_decode_gb=4.7,
            step_s=24.5,
        ),
    ),
)
# lightx2v trained one image-to-video LoRA (on the 480p model); both resolutions take it.
LIGHTX2V_I2V = LoraWeights("lightx2v/Wan2.1-Distill-Loras",
                           "wan2.1_i2v_lora_rank64_lightx2v_4step.safetensors")
# Image to video on any machine: from a start image, and from a start to an end image (the
# first-last-frame architecture: its image tokens come in pairs, so the end image is required).
DEMO_I2V = Preset(
    id="demo-i2v",
    label=demo_label("image to video (Wan 2.1 I2V)"),
    description=demo_description("Wan 2.1 image-to-video"),
    **{**WAN_I2V_COMMON, **DEMO_LIMITS},
)
DEMO_FLF2V = Preset(
    id="demo-flf2v",
    label=demo_label("image to video with an end frame (Wan 2.1 FLF2V)"),
    description=demo_description("Wan 2.1 first-last-frame-to-video"),
    **{**WAN_I2V_COMMON, **DEMO_LIMITS,
       "abilities": frozenset({Ability.TEXT, Ability.IMAGE, Ability.END_IMAGE})},
    requires_end_image=True,
)
# Presets of the first-last-frame architecture (one more learnt image position table).
FIRST_LAST_FRAME = frozenset({FLF2V, DEMO_FLF2V.id})
PRESETS = (
    *BASE_PRESETS,
    *(preview_of(base, loras=[LIGHTX2V_I2V], **LIGHTX2V_4STEP)
      for base in BASE_PRESETS if base.id != FLF2V),
    DEMO_I2V,
    DEMO_FLF2V,
)


def build_wan_i2v(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    components = build_wan(preset_id, scale)
    dims = wan_dims(scale, "14b")
    if scale == "tiny":
        vision = CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                                  num_attention_heads=2, image_size=32, patch_size=8,
                                  projection_dim=8)
    else:  # OpenCLIP ViT-H/14
        vision = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120,
                                  num_hidden_layers=32, num_attention_heads=16, image_size=224,
                                  patch_size=14, projection_dim=1024, hidden_act="gelu")
    image_tokens = (vision.image_size // vision.patch_size) ** 2 + 1  # patches and CLS
    inner = dims["num_attention_heads"] * dims["attention_head_dim"]
    components["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=36, out_channels=16, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", image_dim=vision.hidden_size,
        added_kv_proj_dim=inner, **dims,
        # First-last-frame: both images' CLIP tokens, each with a learnt position.
        pos_embed_seq_len=2 * image_tokens if preset_id in FIRST_LAST_FRAME else None,
    )
    components["image_encoder"] = CLIPVisionModel(vision)
    side = vision.image_size
    components["image_processor"] = CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    return components


FAMILY = Family(name="wan_i2v", presets=PRESETS, build=build_wan_i2v, calls=CallAdapter())
