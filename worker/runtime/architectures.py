"""Every catalogue architecture built in code with random weights, tiny or full size.

Tiny builds (a few MB) are what the tests save in the Hub's folder layout and load back through
the production loader; full builds use the public architecture numbers of each checkpoint, so
the GPU benchmark measures what trained weights would cost without downloading them. Both use
exactly the classes the real checkpoints name in their `model_index.json`.

Tokenizers are made locally (one token per UTF-8 byte): nothing here downloads anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch

from .presets import get_preset
from .tiny import build_tiny_tokenizer

Scale = Literal["tiny", "full"]


@contextmanager
def _building(
    seed: int, device: str | torch.device | None, dtype: torch.dtype | None
) -> Iterator[None]:
    """Seeded weight init on `device` in `dtype` that leaves the caller's RNG alone."""
    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.manual_seed_all(seed)
        try:
            if dtype is not None:
                torch.set_default_dtype(dtype)
            with torch.device(device or "cpu"):
                yield
        finally:
            torch.set_default_dtype(previous)


def _ready(module: torch.nn.Module, dtype: torch.dtype | None) -> torch.nn.Module:
    module = module.eval().requires_grad_(False)
    if dtype is None:
        return module
    module = module.to(dtype)
    if dtype == torch.float32:
        return module
    # As from_pretrained does, some weights (timestep embedders, norms, modulation tables)
    # stay in fp32, matched by any part of the parameter's dotted name. diffusers keeps its
    # list for any lower dtype; transformers keeps `_keep_in_fp32_modules` only for fp16
    # (T5's `wo`) and `_keep_in_fp32_modules_strict` for fp16 and bf16.
    is_transformers = type(module).__module__.startswith("transformers.")
    keep = set(getattr(type(module), "_keep_in_fp32_modules_strict", None) or [])
    if not is_transformers or dtype == torch.float16:
        keep |= set(getattr(type(module), "_keep_in_fp32_modules", None) or [])
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and keep & set(name.split(".")):
            tensor.data = tensor.data.float()
    return module


def _clip_tokenizer() -> Any:
    tokenizer = build_tiny_tokenizer()
    tokenizer.model_max_length = 77
    return tokenizer


def _umt5(scale: Scale, vocab: int) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    if scale == "tiny":
        dims = {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4}
        dims.update(relative_attention_num_buckets=8, relative_attention_max_distance=32)
    else:  # UMT5-XXL encoder, as Wan ships it
        dims = {"d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64}
        vocab = 256384
    config = UMT5Config(
        vocab_size=vocab, dropout_rate=0.0, feed_forward_proj="gated-gelu",
        is_encoder_decoder=False, use_cache=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, **dims,
    )
    return UMT5EncoderModel(config)


def _t5(scale: Scale, vocab: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    if scale == "tiny":
        dims = {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4}
        dims.update(relative_attention_num_buckets=8, relative_attention_max_distance=32)
    else:  # T5 v1.1 XXL encoder (LTX-Video, CogVideoX)
        dims = {"d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64}
        vocab = 32128
    config = T5Config(
        vocab_size=vocab, dropout_rate=0.0, feed_forward_proj="gated-gelu",
        is_encoder_decoder=False, use_cache=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, **dims,
    )
    return T5EncoderModel(config)


def _clip_text(scale: Scale, vocab: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    if scale == "tiny":
        dims = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                "num_attention_heads": 4, "projection_dim": 32}
    else:  # CLIP ViT-L/14 text tower
        dims = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                "num_attention_heads": 12, "projection_dim": 768}
        vocab = 49408
    # eos_token_id 2 makes CLIP pool at the highest token id, whatever the tokenizer.
    return CLIPTextModel(CLIPTextConfig(vocab_size=vocab, bos_token_id=0, eos_token_id=2,
                                        pad_token_id=1, hidden_act="gelu", **dims))


def _wan_vae(scale: Scale, *, wan22: bool = False) -> Any:
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


def _wan_dims(scale: Scale, size: str) -> dict[str, Any]:
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


def _wan_scheduler() -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                   num_train_timesteps=1000, flow_shift=3.0)


def _wan_size(preset_id: str) -> str:
    for size in ("1.3b", "5b"):
        if size in preset_id:
            return size
    return "14b"


def build_wan(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel

    tokenizer = build_tiny_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": _umt5(scale, len(tokenizer)),
        "transformer": WanTransformer3DModel(
            patch_size=(1, 2, 2), in_channels=16, out_channels=16, freq_dim=256,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            **_wan_dims(scale, _wan_size(preset_id)),
        ),
        "vae": _wan_vae(scale),
        "scheduler": _wan_scheduler(),
    }


def build_wan_vace(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanVACETransformer3DModel

    components = build_wan(preset_id, scale)
    dims = _wan_dims(scale, _wan_size(preset_id))
    if scale == "tiny":
        vace_layers = [0]
    elif _wan_size(preset_id) == "1.3b":
        vace_layers = list(range(0, 30, 2))
    else:
        vace_layers = list(range(0, 40, 5))
    components["transformer"] = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), in_channels=16, out_channels=16, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", vace_layers=vace_layers,
        vace_in_channels=96, **dims,
    )
    return components


def build_wan_i2v(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    components = build_wan(preset_id, scale)
    dims = _wan_dims(scale, "14b")
    if scale == "tiny":
        vision = CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                                  num_attention_heads=2, image_size=32, patch_size=8,
                                  projection_dim=8)
    else:  # OpenCLIP ViT-H/14
        vision = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120,
                                  num_hidden_layers=32, num_attention_heads=16, image_size=224,
                                  patch_size=14, projection_dim=1024, hidden_act="gelu")
    inner = dims["num_attention_heads"] * dims["attention_head_dim"]
    components["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=36, out_channels=16, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", image_dim=vision.hidden_size,
        added_kv_proj_dim=inner, **dims,
    )
    components["image_encoder"] = CLIPVisionModel(vision)
    side = vision.image_size
    components["image_processor"] = CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    return components


def build_wan22(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import WanTransformer3DModel

    components = build_wan(preset_id, scale)
    components["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=48, out_channels=48, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", **_wan_dims(scale, "5b"),
    )
    components["vae"] = _wan_vae(scale, wan22=True)
    from diffusers import UniPCMultistepScheduler

    components["scheduler"] = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
        flow_shift=5.0,
    )
    components["expand_timesteps"] = True
    return components


def build_ltx(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXVideoTransformer3DModel,
    )

    tokenizer = build_tiny_tokenizer()
    if scale == "tiny":
        transformer = LTXVideoTransformer3DModel(
            in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
            cross_attention_dim=16, num_layers=1, caption_channels=32,
        )
        # The real compression (32× space, 8× time) at toy widths.
        vae = AutoencoderKLLTXVideo(
            latent_channels=8, block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
        )
    else:  # LTX-Video 0.9 (2B): the classes' defaults are its config
        transformer = LTXVideoTransformer3DModel()
        vae = AutoencoderKLLTXVideo()
    return {
        "tokenizer": tokenizer,
        "text_encoder": _t5(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
            max_image_seq_len=4096, shift_terminal=0.1,
        ),
    }


def _hunyuan_vae(scale: Scale) -> Any:
    from diffusers import AutoencoderKLHunyuanVideo

    if scale == "tiny":
        # No mid-block attention: over every latent voxel it is quadratic, slow on a CPU.
        return AutoencoderKLHunyuanVideo(latent_channels=4, block_out_channels=(8, 8, 8, 8),
                                         layers_per_block=1, norm_num_groups=4,
                                         mid_block_add_attention=False)
    return AutoencoderKLHunyuanVideo()


def build_framepack(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoFramepackTransformer3DModel
    from transformers import (
        LlamaConfig,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    tokenizer = build_tiny_tokenizer()
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
        "tokenizer_2": _clip_tokenizer(),
        "text_encoder_2": _clip_text(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": _hunyuan_vae(scale),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=10.0),
        "image_encoder": SiglipVisionModel(siglip),
        "feature_extractor": SiglipImageProcessor(
            size={"height": siglip.image_size, "width": siglip.image_size}
        ),
    }


def build_cogvideox(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXTransformer3DModel,
    )

    tokenizer = build_tiny_tokenizer()
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
        "text_encoder": _t5(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": vae,
        "scheduler": CogVideoXDDIMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
            clip_sample=False, prediction_type="v_prediction", rescale_betas_zero_snr=True,
            set_alpha_to_one=True, timestep_spacing="trailing", snr_shift_scale=1.0,
        ),
    }


def build_kandinsky5(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5Transformer3DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    # The real checkpoint ships a Qwen2-VL processor; the pipeline only ever passes it text.
    tokenizer = build_tiny_tokenizer()
    if scale == "tiny":
        qwen = Qwen2_5_VLConfig(
            text_config={"hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2,
                         "num_attention_heads": 2, "num_key_value_heads": 2,
                         "vocab_size": 512,
                         "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default",
                                          "type": "default"}},
            vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16,
                           "num_heads": 2, "out_hidden_size": 16},
            vocab_size=512, image_token_id=500, video_token_id=501, vision_start_token_id=502,
            vision_end_token_id=503,
        )
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=4, out_visual_dim=4, in_text_dim=16, in_text_dim2=32, time_dim=32,
            patch_size=(1, 2, 2), model_dim=48, ff_dim=128, num_text_blocks=1,
            num_visual_blocks=1, axes_dims=(8, 8, 8), visual_cond=True,
        )
    else:  # Qwen2.5-VL-7B-Instruct, Kandinsky 5.0 Video Lite (2B)
        qwen = Qwen2_5_VLConfig(
            text_config={"hidden_size": 3584, "intermediate_size": 18944,
                         "num_hidden_layers": 28, "num_attention_heads": 28,
                         "num_key_value_heads": 4, "vocab_size": 152064,
                         "rope_theta": 1000000.0,
                         "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default",
                                          "type": "default"}},
            vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420,
                           "num_heads": 16, "out_hidden_size": 3584},
            vocab_size=152064,
        )
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=16, out_visual_dim=16, in_text_dim=3584, in_text_dim2=768,
            time_dim=512, patch_size=(1, 2, 2), model_dim=1792, ff_dim=7168,
            num_text_blocks=2, num_visual_blocks=32, axes_dims=(16, 24, 24), visual_cond=True,
        )
    return {
        "tokenizer": tokenizer,
        "text_encoder": Qwen2_5_VLForConditionalGeneration(qwen),
        "tokenizer_2": _clip_tokenizer(),
        "text_encoder_2": _clip_text(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": _hunyuan_vae(scale),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=10.0),
    }


BUILDERS: dict[str, Callable[[str, Scale], dict[str, Any]]] = {
    "wan": build_wan,
    "wan_i2v": build_wan_i2v,
    "wan_vace": build_wan_vace,
    "wan22": build_wan22,
    "ltx": build_ltx,
    "framepack": build_framepack,
    "cogvideox": build_cogvideox,
    "kandinsky5": build_kandinsky5,
}


def build_pipeline(
    preset_id: str,
    scale: Scale = "tiny",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Any:
    """The preset's pipeline class with random weights of the given scale.

    Full-size builds belong on a GPU (`device="cuda"`, `dtype=torch.bfloat16`): weights are
    initialised there, component by component, which takes seconds rather than minutes. The
    preset's fp32 components stay in float32.
    """
    import diffusers

    preset = get_preset(preset_id)
    with _building(seed, device, dtype):
        components = BUILDERS[preset.family](preset.id, scale)
    for name, value in components.items():
        if isinstance(value, torch.nn.Module):
            wanted = torch.float32 if name in preset.fp32_components else dtype
            components[name] = _ready(value, None if dtype is None else wanted)
    pipeline = getattr(diffusers, preset.pipeline_class)(**components)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
