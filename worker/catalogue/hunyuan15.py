"""HunyuanVideo 1.5 (8.3B) text-to-video and image-to-video at 480p, 24 fps: diffusers'
`HunyuanVideo15Pipeline` and `HunyuanVideo15ImageToVideoPipeline`.

Its prompt goes through Qwen2.5-VL-7B's language model (in a chat template) and, for text in
quotes, a glyph ByT5; the image-to-video one reads its start image with SigLIP too. Guidance is
a `guider` component, not a call argument, and the pipelines have no step callback: the call
adapter sets the guider per job and reports each step from the scheduler's.

The image-to-video pipeline picks its output size itself, the bucket of its `target_size`
nearest the image's shape; the sizes offered are those buckets, and the adapter sets the
bucket base that holds the size asked for, so the image fitted to it comes back at that size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter
from .figures import HUNYUAN_VAE_CHUNK_GB_PER_MP, decode_gb
from .media import bad
from .tokenizer import build_tokenizer

T2V_ID = "hunyuanvideo1.5-t2v-480p"
I2V_ID = "hunyuanvideo1.5-i2v-480p"

HV15_LIMITS: dict[str, Any] = {
    "family": "hunyuan15",
    "min_frames": 5,
    "max_frames": 121,
    "default_frames": 121,
    "frame_step": 4,
    "default_steps": 50,
    "max_steps": 100,
    "default_guidance": 6.0,
    "max_guidance": 20.0,
    "fps": 24,
    "default_width": 848,
    "default_height": 480,
    # diffusers 0.42 gives its pipelines no LoRA loader.
    "takes_loras": False,
}
# Qwen2.5-VL-7B's language model (7.07 B parameters) and the glyph ByT5 encoder (0.22 B), bf16.
HV15_ENCODERS_GB = 13.6
# 8.33 B parameters in bf16 (its norms and modulation stay in fp32 as diffusers loads them).
HV15_TRANSFORMER_GB = 15.6


def hv15_memory(*, image_encoder_gb: float = 0.0) -> MemoryNeeds:
    """At 848x480x121 (31 x 30 x 53 = 49,290 tokens, hidden size 2,048): estimates from the
    architecture, not yet measured on a GPU (bench/gpu_profiles.py would calibrate them)."""
    return MemoryNeeds(
        transformer_gb=HV15_TRANSFORMER_GB,
        text_encoder_gb=HV15_ENCODERS_GB,
        image_encoder_gb=image_encoder_gb,
        other_gb=0.5,  # the HunyuanVideo 1.5 VAE (32 latent channels) in bf16
        # Wan 2.1 14B's measured 8.4 GiB at 75,600 tokens x 5,120, scaled by tokens x width,
        # with the 1,256 text tokens that share the image tokens' attention.
        activation_gb=2.6,
        decode_gb=decode_gb(848, 480, 121, chunk_gb_per_mp=HUNYUAN_VAE_CHUNK_GB_PER_MP,
                            voxel_bytes=12),
        tiled_decode_gb=4.0,
        blocks=54,
        # 2 x 8.3 B x 2 FLOPs a token plus attention over 50,546 tokens, both CFG passes, at
        # an H200's measured 565 TFLOP/s for attention and 742 for matmuls.
        step_s=6.5,
        encoder_leaf_gb=1.2,  # Qwen's embedding, 152,064 x 3,584: 1.02 GiB
    )


PRESETS = (
    Preset(
        id=T2V_ID,
        label="HunyuanVideo 1.5 text-to-video 8.3B (480p, 24 fps)",
        description=(
            "Tencent's HunyuanVideo 1.5: 5 second 480p clips at 24 fps from a prompt, text in "
            "quotes drawn as written; runs on a 24 GB GPU with offload."
        ),
        **HV15_LIMITS,
        pipeline_class="HunyuanVideo15Pipeline",
        source="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_t2v",
        abilities=frozenset({Ability.TEXT}),
        tasks={Task.T2V: "HunyuanVideo15Pipeline"},
        sizes=((848, 480), (480, 848)),
        memory=hv15_memory(),
    ),
    Preset(
        id=I2V_ID,
        label="HunyuanVideo 1.5 image-to-video 8.3B (480p, 24 fps)",
        description=(
            "Animates a start image into a 5 second 480p clip at 24 fps with HunyuanVideo 1.5, "
            "following the prompt; runs on a 24 GB GPU with offload."
        ),
        **HV15_LIMITS,
        pipeline_class="HunyuanVideo15ImageToVideoPipeline",
        source="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_i2v",
        abilities=frozenset({Ability.TEXT, Ability.IMAGE}),
        tasks={Task.I2V: "HunyuanVideo15ImageToVideoPipeline"},
        # The pipeline's 480p buckets (target size 640, 16-pixel steps) for landscape, portrait
        # and square images.
        sizes=((848, 480), (480, 832), (640, 640)),
        memory=hv15_memory(image_encoder_gb=0.8),  # SigLIP so400m/14 at 384: 0.43 B
    ),
)

# The chat template Qwen2.5-VL's tokenizer ships, which the pipeline applies to every prompt.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_hunyuan15(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        T5Config,
        T5EncoderModel,
    )

    from . import get_preset  # the catalogue imports this module

    preset = get_preset(preset_id)
    i2v = (preset.preview_of or preset.id) == I2V_ID
    tokenizer = build_tokenizer(model_max_length=2048)
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    # ByT5's 256 bytes, 3 specials and 125 sentinel ids.
    t5: dict[str, Any] = {"vocab_size": 384, "feed_forward_proj": "gated-gelu",
                          "is_encoder_decoder": False, "use_cache": False, "dropout_rate": 0.0}
    if scale == "tiny":
        qwen = Qwen2_5_VLTextConfig(
            hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=2, vocab_size=512, rope_theta=1000000.0,
            rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default",
                          "type": "default"})
        t5.update(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                  relative_attention_num_buckets=8, relative_attention_max_distance=32)
        dims: dict[str, Any] = {
            "in_channels": 9, "out_channels": 4, "num_attention_heads": 2,
            "attention_head_dim": 8, "num_layers": 2, "num_refiner_layers": 1,
            "mlp_ratio": 2.0, "rope_axes_dim": (2, 2, 4), "target_size": 64}
        # Every compression as the real VAE's (16x in space, 4x in time), at toy widths.
        vae = AutoencoderKLHunyuanVideo15(latent_channels=4, block_out_channels=(8,) * 5,
                                          layers_per_block=1)
        vision = {"hidden_size": 12, "intermediate_size": 24, "num_hidden_layers": 1,
                  "num_attention_heads": 2, "image_size": 28, "patch_size": 14}
    else:  # Qwen2.5-VL-7B-Instruct's language model, byT5-small's encoder, SigLIP so400m/14
        qwen = Qwen2_5_VLTextConfig(
            hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
            num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
            rope_theta=1000000.0,
            rope_scaling={"mrope_section": [16, 24, 24], "rope_type": "default",
                          "type": "default"})
        t5.update(d_model=1472, d_kv=64, d_ff=3584, num_layers=12, num_heads=6)
        dims = {"target_size": 640}  # the defaults are the 8.3B's architecture
        vae = AutoencoderKLHunyuanVideo15()
        vision = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                  "num_attention_heads": 16, "image_size": 384, "patch_size": 14}
    text_encoder_2 = T5EncoderModel(T5Config(**t5))
    components: dict[str, Any] = {
        "tokenizer": tokenizer,
        "text_encoder": Qwen2_5_VLTextModel(qwen),
        "tokenizer_2": ByT5Tokenizer(),
        "text_encoder_2": text_encoder_2,
        "transformer": HunyuanVideo15Transformer3DModel(
            text_embed_dim=qwen.hidden_size, text_embed_2_dim=t5["d_model"],
            image_embed_dim=vision["hidden_size"], task_type="i2v" if i2v else "t2v",
            **dims),
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=5.0),
        "guider": ClassifierFreeGuidance(guidance_scale=6.0),
    }
    if i2v:
        from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

        side = vision["image_size"]
        components["image_encoder"] = SiglipVisionModel(SiglipVisionConfig(**vision))
        components["feature_extractor"] = SiglipImageProcessor(
            size={"height": side, "width": side})
    return components


class HunyuanVideo15Calls(CallAdapter):
    """Guidance through the pipeline's guider; a step callback made from the scheduler's
    steps; the image-to-video pipeline sized through its bucket base."""

    def prepare(self, pipeline: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        # A fresh guider per job: the loaded one (the checkpoint's) stays as it came.
        guidance = kwargs.pop("guidance_scale")
        pipeline.guider = pipeline.guider.new(guidance_scale=guidance)
        if "image" in kwargs:  # image to video: no size argument, a bucket of the image's
            width, height = kwargs.pop("width"), kwargs.pop("height")
            pipeline.target_size = bucket_base(pipeline, width, height)
        return kwargs
    def run(self, pipeline: Any, **kwargs: Any) -> Any:
        callback = kwargs.pop("callback_on_step_end", None)
        names = kwargs.pop("callback_on_step_end_tensor_inputs", ["latents"])
        if callback is None:
            return pipeline(**kwargs)
        scheduler = pipeline.scheduler
        scheduler.step = _reporting(scheduler.step, pipeline, callback, names)
        try:
            return pipeline(**kwargs)
        finally:
            del scheduler.step  # the class's own again


def bucket_base(pipeline: Any, width: int, height: int) -> int:
    """The bucket size (`target_size`) whose buckets hold width x height: the image-to-video
    pipeline then makes a video of that size from an image fitted to it. The preset's sizes
    are buckets of its checkpoint's base (640 at 480p), a tiny build's of its own."""
    step = int(pipeline.vae_scale_factor_spatial)
    base = math.ceil(math.sqrt(width * height) / step) * step
    if pipeline.video_processor.calculate_default_height_width(height, width, base) != (
            height, width):
        raise bad(f"{width}x{height} is not a size HunyuanVideo 1.5 makes videos of from an "
                  "image.")
    return base


def _reporting(step: Callable[..., Any], pipeline: Any, callback: Callable[..., Any],
               names: list[str]) -> Callable[..., Any]:
    """The scheduler's `step`, calling `callback` after each as `callback_on_step_end` would
    (it may raise to stop the job)."""
    index = 0

    def reported(model_output: Any, timestep: Any, sample: Any, *args: Any, **kw: Any) -> Any:
        nonlocal index
        result = step(model_output, timestep, sample, *args, **kw)
        latents = result[0] if isinstance(result, tuple) else result.prev_sample
        callback(pipeline, index, timestep, {name: latents for name in names
                                             if name == "latents"})
        index += 1
        return result

    return reported


FAMILY = Family(name="hunyuan15", presets=PRESETS, build=build_hunyuan15,
                calls=HunyuanVideo15Calls())
