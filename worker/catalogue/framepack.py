"""HunyuanVideo FramePack: long image-to-video in sections (optionally towards an end image);
its components come from three Hub repositories.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter
from .components import clip_text, hunyuan_vae
from .figures import HUNYUAN_VAE_CHUNK_GB_PER_MP, decode_gb
from .request import GenerationRequest
from .tokenizer import build_clip_tokenizer, build_tokenizer

PRESETS = (
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
            decode_gb=decode_gb(
                480, 832, 145, chunk_gb_per_mp=HUNYUAN_VAE_CHUNK_GB_PER_MP, voxel_bytes=18
            ),
            tiled_decode_gb=4.1,  # traced 2.61 GiB a section, and the history video
            blocks=60,
            step_s=9.45,  # measured: one step of every section of a 121-frame job (4 sections)
            encoder_leaf_gb=1.1,  # Llama's embedding, 128,320 × 4,096: 0.98 GiB
        ),
    ),
)


def build_framepack(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoFramepackTransformer3DModel
    from transformers import (
        LlamaConfig,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    tokenizer = build_tokenizer()
    if scale == "tiny":
        llama = LlamaConfig(hidden_size=16, intermediate_size=37, num_attention_heads=4,
                            num_key_value_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer),
                            pad_token_id=0, bos_token_id=2, eos_token_id=1)
        siglip = SiglipVisionConfig(hidden_size=16, intermediate_size=37, num_hidden_layers=2,
                                    num_attention_heads=2, image_size=32, patch_size=8)
        transformer = HunyuanVideoFramepackTransformer3DModel(
            in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10,
            num_layers=1, num_single_layers=1, num_refiner_layers=1, patch_size=2,
            patch_size_t=1, guidance_embeds=True, text_embed_dim=16, pooled_projection_dim=32,
            rope_axes_dim=(2, 4, 4), has_image_proj=True, image_proj_dim=16,
            has_clean_x_embedder=True,
        )
    else:  # Llama-3-8B text tower, SigLIP so400m/14-384, FramePack's 13B HunyuanVideo
        llama = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                            num_key_value_heads=8, num_hidden_layers=32, vocab_size=128320,
                            pad_token_id=0, bos_token_id=2, eos_token_id=1)
        siglip = SiglipVisionConfig(hidden_size=1152, intermediate_size=4304,
                                    num_hidden_layers=27, num_attention_heads=16,
                                    image_size=384, patch_size=14)
        transformer = HunyuanVideoFramepackTransformer3DModel(
            has_image_proj=True, image_proj_dim=1152, has_clean_x_embedder=True,
        )
    return {
        "tokenizer": tokenizer,
        "text_encoder": LlamaModel(llama),
        "tokenizer_2": build_clip_tokenizer(),
        "text_encoder_2": clip_text(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": hunyuan_vae(scale),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=10.0),
        "image_encoder": SiglipVisionModel(siglip),
        "feature_extractor": SiglipImageProcessor(
            size={"height": siglip.image_size, "width": siglip.image_size}
        ),
    }


class FramePackCalls(CallAdapter):
    """FramePack denoises once per section: a callback for every step of every section."""

    def expected_callbacks(self, preset: Preset, request: GenerationRequest, pipeline: Any) -> int:
        window = int(preset.call_defaults.get("latent_window_size", 9))
        window_frames = (window - 1) * int(pipeline.vae_scale_factor_temporal) + 1
        sections = max(1, math.ceil(request.num_frames / window_frames))
        return request.steps * sections


FAMILY = Family(name="framepack", presets=PRESETS, build=build_framepack, calls=FramePackCalls())
