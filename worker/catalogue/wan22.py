"""Wan 2.2 TI2V 5B: text or a start image to 720p video at 24 fps, with its high-compression
VAE.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter
from .figures import UMT5_LEAF_GB, UMT5_XXL_GB, decode_gb
from .wan import WAN_COMMON, build_wan, wan_dims, wan_vae

# Wan 2.1's limits but for the frame rate: 5 seconds at 24 fps are 121 frames.
WAN22_LIMITS: dict[str, Any] = {**WAN_COMMON, "max_frames": 121, "default_frames": 121, "fps": 24}

PRESETS = (
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
        **WAN22_LIMITS,
        memory=MemoryNeeds(
            transformer_gb=9.4,  # 5.00 B parameters
            text_encoder_gb=UMT5_XXL_GB,
            other_gb=2.7,  # the Wan 2.2 VAE in fp32: 0.70 B parameters
            # 27,280 tokens, each with its own fp32 timestep modulation: traced 5.09 GiB.
            activation_gb=5.3,
            # 21.4; measured 21.2. Decoded frame by frame, gathered in fp32 as Wan 2.1's.
            decode_gb=decode_gb(1280, 704, 121, chunk_gb_per_mp=21.0, voxel_bytes=24),
            tiled_decode_gb=6.9,  # traced 5.71 GiB
            blocks=30,
            step_s=2.42,  # measured on an H200 (docs/performance.md)
            encoder_leaf_gb=UMT5_LEAF_GB,
        ),
    ),
)


def build_wan22(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel

    components = build_wan(preset_id, scale)
    components["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=48, out_channels=48, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", **wan_dims(scale, "5b"),
    )
    components["vae"] = wan_vae(scale, wan22=True)
    from diffusers import UniPCMultistepScheduler

    components["scheduler"] = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
        flow_shift=5.0,
    )
    components["expand_timesteps"] = True
    return components


FAMILY = Family(name="wan22", presets=PRESETS, build=build_wan22, calls=CallAdapter())
