"""Kandinsky 5.0 Video Lite (2B), the diffusers successor of Kandinsky 4 Flash: text to video
at 24 fps.
"""

from __future__ import annotations

from typing import Any

from .base import TEXT_ONLY, Family, MemoryNeeds, Preset, Scale, Task, preview_of
from .calls import CallAdapter
from .components import clip_text, hunyuan_vae, qwen25_vl
from .figures import HUNYUAN_VAE_CHUNK_GB_PER_MP, decode_gb
from .tokenizer import build_clip_tokenizer, build_tokenizer

BASE_PRESETS = (
    Preset(
        id="kandinsky5-lite-t2v",
        label="Kandinsky 5 Lite text-to-video 2B (24 fps)",
        description=(
            "Kandinsky 5.0 Video Lite, the diffusers successor of Kandinsky 4 Flash: "
            "5 second clips at 24 fps from a prompt."
        ),
        family="kandinsky5",
        pipeline_class="Kandinsky5T2VPipeline",
        source="kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers",
        abilities=TEXT_ONLY,
        tasks={Task.T2V: "Kandinsky5T2VPipeline"},
        default_width=768,
        default_height=512,
        sizes=((768, 512), (512, 768), (512, 512)),
        min_frames=5,
        max_frames=121,
        default_frames=121,
        frame_step=4,
        default_steps=50,
        max_steps=100,
        default_guidance=5.0,
        max_guidance=20.0,
        fps=24,
        memory=MemoryNeeds(
            transformer_gb=4.3,  # 2.01 B parameters, its modulation layers in fp32
            text_encoder_gb=15.7,  # Qwen2.5-VL 7B (8.29 B parameters) and CLIP-L's text tower
            other_gb=0.5,  # the HunyuanVideo VAE in bf16: 0.25 B parameters
            activation_gb=2.2,  # 47,616 tokens: traced 2.09 GiB
            # 21.8; measured 21.7.
            decode_gb=decode_gb(
                768, 512, 121, chunk_gb_per_mp=HUNYUAN_VAE_CHUNK_GB_PER_MP, voxel_bytes=12
            ),
            tiled_decode_gb=3.3,  # traced 2.75 GiB
            blocks=34,
            step_s=3.70,  # measured on an H200 (docs/performance.md)
            # Qwen's embedding, 152,064 × 3,584: 1.02 GiB (its output head is as large).
            encoder_leaf_gb=1.2,
        ),
    ),
)
# Kandinsky Lab's diffusion-distilled checkpoint: 16 steps without CFG (its model card).
PRESETS = (
    *BASE_PRESETS,
    preview_of(BASE_PRESETS[0], default_steps=16, default_guidance=1.0,
               source="kandinskylab/Kandinsky-5.0-T2V-Lite-distilled16steps-5s-Diffusers"),
)


def build_kandinsky5(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5Transformer3DModel

    # The real checkpoint ships a Qwen2-VL processor; the pipeline only ever passes it text.
    tokenizer = build_tokenizer()
    if scale == "tiny":
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=4, out_visual_dim=4, in_text_dim=16, in_text_dim2=32, time_dim=32,
            patch_size=(1, 2, 2), model_dim=48, ff_dim=128, num_text_blocks=1,
            num_visual_blocks=1, axes_dims=(8, 8, 8), visual_cond=True,
        )
    else:  # Kandinsky 5.0 Video Lite (2B)
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=16, out_visual_dim=16, in_text_dim=3584, in_text_dim2=768,
            time_dim=512, patch_size=(1, 2, 2), model_dim=1792, ff_dim=7168,
            num_text_blocks=2, num_visual_blocks=32, axes_dims=(16, 24, 24), visual_cond=True,
        )
    return {
        "tokenizer": tokenizer,
        "text_encoder": qwen25_vl(scale),
        "tokenizer_2": build_clip_tokenizer(),
        "text_encoder_2": clip_text(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": hunyuan_vae(scale),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=10.0),
    }


FAMILY = Family(name="kandinsky5", presets=PRESETS, build=build_kandinsky5, calls=CallAdapter())
