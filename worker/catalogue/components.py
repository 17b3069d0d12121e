"""Components several families share, built with random weights at a scale: the text encoders
(UMT5-XXL, T5 v1.1 XXL, CLIP-L's text tower, Qwen2.5-VL 7B) and the HunyuanVideo VAE.

transformers and diffusers are imported inside each builder, never at import.
"""

from __future__ import annotations

from typing import Any

from .base import Scale


def umt5(scale: Scale, vocab: int) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    # UMT5-XXL encoder, as Wan ships it
    return UMT5EncoderModel(UMT5Config(**_t5_encoder_config(scale, vocab, full_vocab=256384)))


def t5(scale: Scale, vocab: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    # T5 v1.1 XXL encoder (LTX-Video, CogVideoX)
    return T5EncoderModel(T5Config(**_t5_encoder_config(scale, vocab, full_vocab=32128)))


def _t5_encoder_config(scale: Scale, vocab: int, *, full_vocab: int) -> dict[str, Any]:
    """An encoder-only T5's config: the XXL dimensions (UMT5-XXL and T5 v1.1 XXL share them)
    with the real vocabulary, or toy ones with the tokenizer's."""
    if scale == "tiny":
        dims = {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4}
        dims.update(relative_attention_num_buckets=8, relative_attention_max_distance=32)
    else:
        dims = {"d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64}
        vocab = full_vocab
    return {
        "vocab_size": vocab, "dropout_rate": 0.0, "feed_forward_proj": "gated-gelu",
        "is_encoder_decoder": False, "use_cache": False, "pad_token_id": 0, "eos_token_id": 1,
        "decoder_start_token_id": 0, **dims,
    }


def clip_text(scale: Scale, vocab: int) -> Any:
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


def qwen25_vl(scale: Scale) -> Any:
    """Qwen2.5-VL-7B-Instruct (Kandinsky 5 and 6 read the prompt with it), or a toy one."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if scale == "tiny":
        config = Qwen2_5_VLConfig(
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
    else:
        config = Qwen2_5_VLConfig(
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
    return Qwen2_5_VLForConditionalGeneration(config)


def hunyuan_vae(scale: Scale) -> Any:
    from diffusers import AutoencoderKLHunyuanVideo

    if scale == "tiny":
        # No mid-block attention: over every latent voxel it is quadratic, slow on a CPU.
        return AutoencoderKLHunyuanVideo(latent_channels=4, block_out_channels=(8, 8, 8, 8),
                                         layers_per_block=1, norm_num_groups=4,
                                         mid_block_add_attention=False)
    return AutoencoderKLHunyuanVideo()
