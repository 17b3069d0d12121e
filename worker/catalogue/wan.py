"""Wan 2.1 text-to-video (1.3B and 14B) and the built-in `tiny` preset: a toy-sized Wan 2.1
with random weights, built by this family's builder at tiny scale.
"""

from __future__ import annotations

from typing import Any

from .base import (
    Ability,
    Family,
    LoraWeights,
    MemoryNeeds,
    Parallelism,
    Preset,
    Scale,
    Task,
    preview_of,
)
from .calls import CallAdapter, strength_steps
from .components import umt5
from .demo import TOY_MEMORY
from .figures import (
    UMT5_LEAF_GB,
    UMT5_XXL_GB,
    WAN21_DECODE,
    WAN_VAE_FP32_GB,
    decode_gb,
)
from .tokenizer import build_tokenizer

WAN_480P = ((832, 480), (480, 832))
WAN_720P = ((1280, 720), (720, 1280))
# What every Wan 2.1 preset shares.
WAN_COMMON: dict[str, Any] = {
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
# What every Wan 2.1 text-to-video preset is, the tiny one included: a prompt, or a video
# restyled (the same weights, started part-way down the schedule from the video's latents).
WAN_T2V: dict[str, Any] = {
    "family": "wan",
    "pipeline_class": "WanPipeline",
    "abilities": frozenset({Ability.TEXT, Ability.VIDEO}),
    "tasks": {Task.T2V: "WanPipeline", Task.V2V: "WanVideoToVideoPipeline"},
    "max_input_frames": 81,
}
# The memory every Wan 2.1 checkpoint shares: its UMT5-XXL text encoder and fp32 VAE.
WAN21_ENCODERS: dict[str, Any] = {
    "text_encoder_gb": UMT5_XXL_GB,
    "other_gb": WAN_VAE_FP32_GB,
    "encoder_leaf_gb": UMT5_LEAF_GB,
}

BASE_PRESETS = (
    Preset(
        id="tiny",
        label="Tiny random model (noise-like output, for trying the app without a GPU)",
        description=(
            "A toy-sized Wan 2.1 with random weights, built on the worker in a second. "
            "Its videos are coloured noise: use it to try the studio on any machine."
        ),
        **WAN_T2V,
        source=None,
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
        memory=TOY_MEMORY,
        # Only so that tests can run a real two-process group on the CPU: 128x128x17 (320
        # tokens) goes on 2, 160x96x5 (120) on 1.
        parallelism=Parallelism(gpu_counts=(2,), heads=2, min_tokens_per_gpu=160,
                                efficiency={2: 0.5}),
        builtin=True,
    ),
    Preset(
        id="wan2.1-t2v-1.3b",
        label="Wan 2.1 text-to-video 1.3B (480p)",
        description=(
            "Wan 2.1's small text-to-video model: 5 second 480p clips at 16 fps, "
            "runs on consumer GPUs."
        ),
        **WAN_T2V,
        source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        default_width=832,
        default_height=480,
        sizes=WAN_480P,
        memory=MemoryNeeds(
            transformer_gb=2.7,  # 1.42 B parameters
            **WAN21_ENCODERS,
            activation_gb=1.6,  # 32,760 tokens: traced 1.51 GiB
            decode_gb=decode_gb(832, 480, 81, **WAN21_DECODE),  # 9.1; measured 8.9
            tiled_decode_gb=2.1,  # traced 1.70 GiB; measured at most 2.0
            blocks=30,
            step_s=1.26,  # measured on an H200 (docs/performance.md)
        ),
        # 12 heads, hidden size 1536: at 480p (32,760 tokens) a GPU's share of the work is
        # too small to hide the all-to-alls, so its jobs stay on one GPU.
        parallelism=Parallelism(gpu_counts=(2, 4), heads=12, min_tokens_per_gpu=40_000,
                                efficiency={2: 0.8, 4: 0.6}),
        **WAN_COMMON,
    ),
    Preset(
        id="wan2.1-t2v-14b",
        label="Wan 2.1 text-to-video 14B (720p)",
        description=(
            "Wan 2.1's large text-to-video model: 5 second clips at 720p or 480p, "
            "16 fps, best quality; needs a data-centre GPU or offload."
        ),
        **WAN_T2V,
        source="Wan-AI/Wan2.1-T2V-14B-Diffusers",
        default_width=1280,
        default_height=720,
        sizes=(*WAN_720P, *WAN_480P),
        memory=MemoryNeeds(
            transformer_gb=26.7,  # 14.29 B parameters
            **WAN21_ENCODERS,
            # 75,600 tokens; measured 3.6 GiB at 832×480 (32,760 tokens, model offload).
            activation_gb=8.4,
            decode_gb=decode_gb(1280, 720, 81, **WAN21_DECODE),  # 20.9
            tiled_decode_gb=4.7,  # traced 3.91 GiB
            blocks=40,
            step_s=24.0,
        ),
        # One forward at 1280x720x81 on H200s: 1.91x on 2 GPUs, 3.77x on 4 (DESIGN.md).
        # 720p (75,600 tokens) and 480p (32,760) both go on 4.
        parallelism=Parallelism(gpu_counts=(2, 4), heads=40, min_tokens_per_gpu=8_000,
                                efficiency={2: 0.955, 4: 0.94}),
        **WAN_COMMON,
    ),
)
TINY, WAN_1_3B, WAN_14B = BASE_PRESETS

# lightx2v's 4-step distillations (Wan 2.1's, and Wan 2.2 A14B's Lightning) sample without CFG
# on the timesteps they were trained on: shift 5 of 1, 0.75, 0.5 and 0.25, i.e. 1000, 937.5,
# 833.3 and 625 (lightx2v/LightX2V, configs/distill: "denoising_step_list": [1000, 750, 500,
# 250], "sample_shift": 5, "enable_cfg": false). diffusers' flow Euler scheduler spaces four
# steps otherwise (1000, 910, 717, 24); UniPC's flow sigmas are these (999, 937, 833, 625), and
# at order 1 without its corrector it is the Euler step.
LIGHTX2V_4STEP: dict[str, Any] = {
    "default_steps": 4,
    "default_guidance": 1.0,
    "scheduler_class": "UniPCMultistepScheduler",
    "scheduler_config": {"prediction_type": "flow_prediction", "use_flow_sigmas": True,
                         "num_train_timesteps": 1000, "flow_shift": 5.0, "solver_order": 1,
                         # every step's (a Preview runs its 4; no step count brings it back)
                         "disable_corrector": list(range(WAN_COMMON["max_steps"]))},
}


PRESETS = (
    *BASE_PRESETS,
    # The built-in tiny model's Preview: the same random weights, run as the 4-step variants run.
    preview_of(TINY, builtin=True, source=None, **LIGHTX2V_4STEP),
    # CausVid (bidirectional, 1.3B) as Kijai/WanVideo_comfy publishes it; ComfyUI templates
    # run it at strength 0.7 with 4 steps and no CFG. Its licence is CC BY-NC 4.0.
    preview_of(WAN_1_3B, loras=[LoraWeights(
        "Kijai/WanVideo_comfy", "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors",
        scale=0.7)], **LIGHTX2V_4STEP),
    preview_of(WAN_14B, loras=[LoraWeights(
        "lightx2v/Wan2.1-Distill-Loras", "wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors")],
        **LIGHTX2V_4STEP),
)


def wan_vae(scale: Scale, *, wan22: bool = False) -> Any:
    import torch
    from diffusers import AutoencoderKLWan

    if wan22:
        config: dict[str, Any] = {
            "z_dim": 48, "in_channels": 12, "out_channels": 12, "is_residual": True,
            "patch_size": 2, "scale_factor_spatial": 16, "scale_factor_temporal": 4,
            "latents_mean": [0.0] * 48, "latents_std": [1.0] * 48,
        }
        if scale == "tiny":
            config.update(base_dim=3, dim_mult=[1, 1, 1, 1], num_res_blocks=1)
        else:
            config.update(base_dim=160, decoder_base_dim=256, dim_mult=[1, 2, 4, 4],
                          num_res_blocks=2)
        return AutoencoderKLWan(temperal_downsample=[False, True, True], **config)
    if scale == "tiny":
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
        with torch.no_grad():  # visible colour rather than flat grey
            vae.decoder.conv_out.weight.mul_(5.0)
            vae.decoder.conv_out.bias.zero_()
        return vae
    return AutoencoderKLWan()  # the defaults are Wan 2.1's VAE


def wan_dims(scale: Scale, size: str) -> dict[str, Any]:
    if scale == "tiny":
        return {"num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32,
                "num_layers": 2, "text_dim": 32}
    if size == "1.3b":
        return {"num_attention_heads": 12, "attention_head_dim": 128, "ffn_dim": 8960,
                "num_layers": 30, "text_dim": 4096}
    if size == "5b":
        return {"num_attention_heads": 24, "attention_head_dim": 128, "ffn_dim": 14336,
                "num_layers": 30, "text_dim": 4096}
    return {"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824,
            "num_layers": 40, "text_dim": 4096}


def wan_scheduler() -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                   num_train_timesteps=1000, flow_shift=3.0)


def wan_size(preset_id: str) -> str:
    for size in ("1.3b", "5b"):
        if size in preset_id:
            return size
    return "14b"


def build_wan(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel

    tokenizer = build_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": umt5(scale, len(tokenizer)),
        "transformer": WanTransformer3DModel(
            patch_size=(1, 2, 2), in_channels=16, out_channels=16, freq_dim=256,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            **wan_dims(scale, wan_size(preset_id)),
        ),
        "vae": wan_vae(scale),
        "scheduler": wan_scheduler(),
    }


class WanCalls(CallAdapter):
    """Video-to-video runs `strength` of the steps, as CogVideoX's does."""

    def expected_callbacks(self, preset: Preset, request: Any, pipeline: Any) -> int:
        return strength_steps(preset, request)


FAMILY = Family(name="wan", presets=PRESETS, build=build_wan, calls=WanCalls())
