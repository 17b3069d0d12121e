"""CogVideoX 5B: 720x480 clips at 8 fps from a prompt, or an input video restyled.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter, strength_steps
from .components import t5
from .figures import T5_LEAF_GB, T5_XXL_GB, decode_gb
from .request import GenerationRequest
from .tokenizer import build_tokenizer

PRESETS = (
    Preset(
        id="cogvideox-5b",
        label="CogVideoX 5B (720×480, 8 fps; text or video to video)",
        description=(
            "THUDM's CogVideoX 5B: 6 second 720x480 clips at 8 fps from a prompt, or an "
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
            text_encoder_gb=T5_XXL_GB,
            other_gb=0.4,  # the VAE in bf16: 0.22 B parameters
            activation_gb=2.8,  # CFG in one batch of 2 × 17,776 tokens: traced 2.64 GiB
            # 15.0; measured 14.8. Two latent frames at a time, gathered in bf16.
            decode_gb=decode_gb(720, 480, 49, chunk_gb_per_mp=42.6, voxel_bytes=12),
            tiled_decode_gb=4.6,  # traced 3.77 GiB
            blocks=42,
            step_s=1.82,  # measured on an H200 (docs/performance.md)
            encoder_leaf_gb=T5_LEAF_GB,
        ),
    ),
)


def build_cogvideox(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXTransformer3DModel,
    )

    tokenizer = build_tokenizer()
    tokenizer.model_max_length = 226
    if scale == "tiny":
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
            time_embed_dim=8, text_embed_dim=32, num_layers=1, sample_width=90,
            sample_height=60, sample_frames=49, patch_size=2, max_text_seq_length=226,
            use_rotary_positional_embeddings=True,
        )
        vae = AutoencoderKLCogVideoX(block_out_channels=(8, 8, 8, 8), latent_channels=4,
                                     layers_per_block=1, norm_num_groups=2)
    else:  # CogVideoX-5b
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=48, attention_head_dim=64, num_layers=42,
            use_rotary_positional_embeddings=True,
        )
        vae = AutoencoderKLCogVideoX(scaling_factor=0.7)
    return {
        "tokenizer": tokenizer,
        "text_encoder": t5(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": vae,
        "scheduler": CogVideoXDDIMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
            clip_sample=False, prediction_type="v_prediction", rescale_betas_zero_snr=True,
            set_alpha_to_one=True, timestep_spacing="trailing", snr_shift_scale=1.0,
        ),
    }


class CogVideoXCalls(CallAdapter):
    """Video-to-video starts part-way down the schedule: `strength` of the steps run."""

    def expected_callbacks(self, preset: Preset, request: GenerationRequest, pipeline: Any) -> int:
        return strength_steps(preset, request)


FAMILY = Family(name="cogvideox", presets=PRESETS, build=build_cogvideox, calls=CogVideoXCalls())
