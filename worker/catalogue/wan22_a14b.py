"""Wan 2.2 A14B text-to-video and image-to-video: two 14B experts of Wan 2.1 14B's architecture
that take turns. The high-noise expert (`transformer`) denoises while the timestep is at or
above `boundary_ratio` times 1000, the low-noise one (`transformer_2`) after it; diffusers'
`WanPipeline` and `WanImageToVideoPipeline` switch between them. Only one runs at a step, so
memory plans may keep one on the GPU and the other in host memory (worker/runtime/experts.py).

Both use the Wan 2.1 VAE and UMT5-XXL; the image-to-video one takes its start image through
the VAE only (no CLIP image encoder: its expert's input has 36 channels, 16 noise + 20 image).

Each has a Preview: lightx2v's Wan2.2-Lightning, a 4-step distillation published as a pair of
LoRAs, one for each expert.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, LoraWeights, MemoryNeeds, Preset, Scale, Task, preview_of
from .calls import CallAdapter
from .components import umt5
from .figures import UMT5_LEAF_GB, UMT5_XXL_GB, WAN21_DECODE, WAN_VAE_FP32_GB, decode_gb
from .tokenizer import build_tokenizer
from .wan import LIGHTX2V_4STEP, WAN_480P, WAN_720P, WAN_COMMON, wan_dims, wan_vae

T2V_ID = "wan2.2-t2v-a14b"
I2V_ID = "wan2.2-i2v-a14b"
# The timestep ratio at which the low-noise expert takes over, and the flow shift each was
# trained with (Wan 2.2's configs: t2v-A14B boundary 0.875, shift 12; i2v-A14B 0.900, 5).
BOUNDARY = {T2V_ID: 0.875, I2V_ID: 0.900}
FLOW_SHIFT = {T2V_ID: 12.0, I2V_ID: 5.0}
# Input channels of each expert: noise latents, and for I2V the start image's latents and mask.
IN_CHANNELS = {T2V_ID: 16, I2V_ID: 36}

# Wan 2.2's A14B limits: Wan 2.1's (81 frames at 16 fps), 40 steps by default.
A14B_LIMITS: dict[str, Any] = {
    **WAN_COMMON,
    "family": "wan22_a14b",
    "default_width": 1280,
    "default_height": 720,
    "sizes": (*WAN_720P, *WAN_480P),
    "default_steps": 40,
}


def a14b_memory(*, activation_gb: float, step_s: float) -> MemoryNeeds:
    """Two experts of 14.29 B parameters each (26.7 GiB in bf16), UMT5-XXL and the Wan 2.1
    VAE in fp32. At 1280x720x81 (75,600 tokens) one expert's forward works as Wan 2.1 14B's."""
    return MemoryNeeds(
        transformer_gb=2 * 26.7,
        experts=2,
        text_encoder_gb=UMT5_XXL_GB,
        other_gb=WAN_VAE_FP32_GB,
        encoder_leaf_gb=UMT5_LEAF_GB,
        activation_gb=activation_gb,
        decode_gb=decode_gb(1280, 720, 81, **WAN21_DECODE),  # 20.9, as Wan 2.1 14B's
        tiled_decode_gb=4.7,  # as Wan 2.1 14B's
        blocks=40,
        step_s=step_s,
    )


BASE_PRESETS = (
    Preset(
        id=T2V_ID,
        label="Wan 2.2 text-to-video A14B (720p, two experts)",
        description=(
            "Wan 2.2's large text-to-video model: a high-noise and a low-noise 14B expert "
            "taking turns, 5 second clips at 720p or 480p and 16 fps; needs a data-centre "
            "GPU or offload."
        ),
        **{**A14B_LIMITS, "default_guidance": 4.0},  # the high-noise expert's (t2v-A14B)
        pipeline_class="WanPipeline",
        source="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        abilities=frozenset({Ability.TEXT}),
        tasks={Task.T2V: "WanPipeline"},
        memory=a14b_memory(activation_gb=8.4, step_s=24.0),  # as Wan 2.1 14B's
    ),
    Preset(
        id=I2V_ID,
        label="Wan 2.2 image-to-video A14B (720p, two experts)",
        description=(
            "Animates a start image into a 5 second clip at 720p or 480p and 16 fps with Wan "
            "2.2's two 14B experts; needs a data-centre GPU or offload."
        ),
        **{**A14B_LIMITS, "default_guidance": 3.5},  # both experts' (i2v-A14B)
        pipeline_class="WanImageToVideoPipeline",
        source="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
        tasks={Task.I2V: "WanImageToVideoPipeline"},
        # The start image's latents ride along as input channels: Wan 2.1 I2V's working set.
        memory=a14b_memory(activation_gb=8.3, step_s=24.5),
    ),
)

# lightx2v's Wan2.2-Lightning (huggingface.co/lightx2v/Wan2.2-Lightning): one folder per model,
# holding the high-noise expert's LoRA and the low-noise one's. T2V: the 250928 release, the
# latest of that repository (after Seko V1 and V1.1); I2V: Seko V1, its only one.
LIGHTNING_REPO = "lightx2v/Wan2.2-Lightning"
LIGHTNING_FOLDER = {T2V_ID: "Wan2.2-T2V-A14B-4steps-lora-250928",
                    I2V_ID: "Wan2.2-I2V-A14B-4steps-lora-rank64-Seko-V1"}
# How Lightning samples (its wan/configs/wan_{t2v,i2v}_A14B.py): 4 Euler steps at flow shift 5
# without CFG (guide scale 1.0 for both experts), at the base's boundary (0.875 T2V, 0.900 I2V).
# The distillation was trained on timesteps 1000, 937.5, 833.3 and 625 (lightx2v, issue 3 of
# ModelTC/LightX2V-Wan2.2-Lightning), as Wan 2.1's were: the same sampling.
LIGHTNING_4STEP = LIGHTX2V_4STEP


def lightning_loras(preset_id: str) -> list[LoraWeights]:
    """Wan2.2-Lightning's pair for a base preset: each LoRA into its own expert."""
    folder = LIGHTNING_FOLDER[preset_id]
    return [LoraWeights(LIGHTNING_REPO, f"{folder}/{expert}_model.safetensors", expert=expert)
            for expert in ("high_noise", "low_noise")]


PRESETS = (
    *BASE_PRESETS,
    *(preview_of(base, loras=lightning_loras(base.id), **LIGHTNING_4STEP)
      for base in BASE_PRESETS),
)


def build_wan22_a14b(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import UniPCMultistepScheduler, WanTransformer3DModel

    from . import get_preset  # the catalogue imports this module

    preset = get_preset(preset_id)
    base = preset.preview_of or preset.id  # a Preview variant is its base's architecture

    def expert() -> Any:
        return WanTransformer3DModel(
            patch_size=(1, 2, 2), in_channels=IN_CHANNELS[base], out_channels=16,
            freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            **wan_dims(scale, "14b"),
        )

    tokenizer = build_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": umt5(scale, len(tokenizer)),
        # Built one after the other from one seeded stream: two different random experts.
        "transformer": expert(),
        "transformer_2": expert(),
        "vae": wan_vae(scale),
        "scheduler": UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
            flow_shift=FLOW_SHIFT[base]),
        "boundary_ratio": BOUNDARY[base],
    }


FAMILY = Family(name="wan22_a14b", presets=PRESETS, build=build_wan22_a14b, calls=CallAdapter())
