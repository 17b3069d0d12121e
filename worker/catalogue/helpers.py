"""Helper models: the smaller transformers models run beside the video models (depth and pose
for motion transfer, point-prompted video segmentation for mask tracking, semantic
segmentation for subject photos' background removal, image super-resolution for upscaling a
video frame by frame, a small instruction-tuned language model for the studio's Improve prompt).

Installed, verified and removed like any preset (`weights.fetch`, the admin's Models page,
`fetch_model`), into `$FRAMECRAFT_MODELS_DIR/<id>` or the Hugging Face cache. Each has a
builder of its real architecture with random weights, tiny or full size, for tests and
benchmarks. Plain data at import: transformers and torch only inside the builders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .base import Scale
from .demo import demo_label
from .install import MODELS_DIR_ENV, demo_models_enabled, hf_cache_dir, model_complete

Purpose = Literal["background", "depth", "people", "pose", "prompt", "segmentation", "upscale"]

# Control tracks of motion transfer (worker.editing.control), kind → what people read, in the
# order the studio offers them; those drawn by a helper model name its purpose.
CONTROL_KINDS: dict[str, str] = {
    "depth": "Depth",
    "pose": "Body pose",
    "canny": "Edges (Canny)",
    "grey": "Greyscale",
    "flow": "Optical flow",
}
HELPER_PURPOSES: dict[str, tuple[Purpose, ...]] = {"depth": ("depth",),
                                                   "pose": ("people", "pose")}

PURPOSE_LABELS: dict[str, str] = {
    "background": "background removal (subject photos)",
    "depth": "depth maps (motion transfer)",
    "people": "finding people for body pose (motion transfer)",
    "pose": "body pose (motion transfer)",
    "prompt": "prompt enhancement (Improve prompt in the studio)",
    "segmentation": "mask tracking (masked edits)",
    "upscale": "upscaling videos (Upscale on a video's page)",
}


@dataclass(frozen=True, kw_only=True)
class HelperModel:
    """One transformers checkpoint: `model_class` is loaded from its folder, with the image
    processor its `preprocessor_config.json` names (none for video segmentation, whose frames
    are prepared in `worker.editing.tracking`).

    A built-in one (a demo: no source) is its architecture at tiny scale with seeded random
    weights, written out by `worker.editing.helpers.helper_folder` when first used."""

    id: str
    label: str
    description: str
    purpose: Purpose
    model_class: str
    source: str | None
    min_vram_gb: float
    # What the weights machinery asks of every installable thing.
    builtin: bool = False
    component_sources: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.builtin == (self.source is not None):
            raise ValueError(f"helper {self.id}: built-in helpers have no source, others "
                             "need one")

    @property
    def tasks(self) -> tuple[str, ...]:
        return (PURPOSE_LABELS[self.purpose],)

    def local_dir(self) -> Path | None:
        root = os.environ.get(MODELS_DIR_ENV)
        return Path(root) / self.id if root else None

    def installed_path(self) -> Path | None:
        """The folder holding complete weights (models folder first, then the HF cache); None
        for a built-in helper, which has nothing installed."""
        if self.source is None:
            return None
        local = self.local_dir()
        if local is not None and model_complete(local):
            return local
        snapshot = _cached_model(self.source)
        return snapshot if snapshot is not None and model_complete(snapshot) else None

    def is_installed(self) -> bool:
        """Whether a worker can run it: a built-in one while the demo models are on
        (FRAMECRAFT_DEMO_MODELS), any other once installed."""
        if self.builtin:
            return demo_models_enabled()
        return self.installed_path() is not None


def _cached_model(repo_id: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=hf_cache_dir())
    return Path(found).parent if isinstance(found, str) else None


# The demo helpers: (id suffix, what it does, purpose, architecture, model class).
_DEMO_HELPERS: tuple[tuple[str, str, Purpose, str, str], ...] = (
    ("sam2", "mask tracking", "segmentation", "SAM 2.1", "Sam2VideoModel"),
    ("segformer", "background removal", "background", "SegFormer",
     "SegformerForSemanticSegmentation"),
    ("depth", "depth maps", "depth", "Depth Anything V2", "DepthAnythingForDepthEstimation"),
    ("rtdetr", "finding people", "people", "RT-DETR", "RTDetrForObjectDetection"),
    ("vitpose", "body pose", "pose", "ViTPose", "VitPoseForPoseEstimation"),
    ("swin2sr", "upscaling", "upscale", "Swin2SR", "Swin2SRForImageSuperResolution"),
    ("qwen", "prompt enhancement", "prompt", "Qwen2.5 instruct model", "Qwen2ForCausalLM"),
)

HELPERS: dict[str, HelperModel] = {helper.id: helper for helper in (
    HelperModel(
        id="depth-anything-v2-small", label="Depth Anything V2 Small",
        description="Relative depth for each frame: the depth control track of VACE.",
        purpose="depth", model_class="DepthAnythingForDepthEstimation",
        source="depth-anything/Depth-Anything-V2-Small-hf", min_vram_gb=0.5,
    ),
    HelperModel(
        id="rtdetr-r50-people", label="RT-DETR R50 (finds people for pose)",
        description="Boxes around each person in a frame, for ViTPose to find their keypoints.",
        purpose="people", model_class="RTDetrForObjectDetection",
        source="PekingU/rtdetr_r50vd_coco_o365", min_vram_gb=0.5,
    ),
    HelperModel(
        id="vitpose-base", label="ViTPose base (COCO body keypoints)",
        description="17 body keypoints per person, drawn as the pose control track of VACE.",
        purpose="pose", model_class="VitPoseForPoseEstimation",
        source="usyd-community/vitpose-base-simple", min_vram_gb=0.6,
    ),
    HelperModel(
        id="sam2.1-hiera-tiny", label="SAM 2.1 Hiera tiny (video segmentation)",
        description="Follows what a user clicked on through a clip: masks that track.",
        purpose="segmentation", model_class="Sam2VideoModel",
        source="facebook/sam2.1-hiera-tiny", min_vram_gb=1.0,
    ),
    HelperModel(
        id="segformer-b2-clothes", label="SegFormer B2 (people: background removal)",
        description="A SegFormer B2 fine-tuned to parse people (ATR: background, hair, face, "
                    "clothes …); every class but the background is the subject.",
        purpose="background", model_class="SegformerForSemanticSegmentation",
        source="mattmdjaga/segformer_b2_clothes", min_vram_gb=0.5,
    ),
    # Upscalers: the model's own factor is in its config (`upscale`); a job of another factor
    # runs it again or scales its result down (worker.editing.upscale).
    # (The real-world x4 checkpoint, caidas/swin2SR-realworld-sr-x4-64-bsrgan-psnr, has only
    # pickled weights on its main branch; helpers install safetensors alone.)
    HelperModel(
        id="swin2sr-classical-x4", label="Swin2SR ×4 (classical upscaling)",
        description="Swin2SR for clean sources: 4× per frame, run in tiles; 2× jobs scale "
                    "its result down.",
        purpose="upscale", model_class="Swin2SRForImageSuperResolution",
        source="caidas/swin2SR-classical-sr-x4-64", min_vram_gb=1.0,
    ),
    HelperModel(
        id="swin2sr-classical-x2", label="Swin2SR ×2 (classical upscaling)",
        description="Swin2SR for clean sources: 2× per frame, run in tiles; 4× jobs run it "
                    "twice.",
        purpose="upscale", model_class="Swin2SRForImageSuperResolution",
        source="caidas/swin2SR-classical-sr-x2-64", min_vram_gb=1.0,
    ),
    # Prompt enhancers: small instruction-tuned language models that rewrite a short prompt
    # in the style of the chosen video model (worker.catalogue.prompting); they run on the
    # models worker, on its CPU if it has no GPU (a suggestion takes seconds).
    HelperModel(
        id="qwen2.5-0.5b-instruct", label="Qwen2.5 0.5B Instruct (prompt enhancement)",
        description="Rewrites a short prompt into the detailed style the chosen video model "
                    "was trained on; 0.5 B parameters, quick on a CPU.",
        purpose="prompt", model_class="Qwen2ForCausalLM",
        source="Qwen/Qwen2.5-0.5B-Instruct", min_vram_gb=1.5,
    ),
    HelperModel(
        id="qwen3-0.6b", label="Qwen3 0.6B (prompt enhancement)",
        description="Rewrites a short prompt into the detailed style the chosen video model "
                    "was trained on (its thinking mode off); 0.6 B parameters.",
        purpose="prompt", model_class="Qwen3ForCausalLM",
        source="Qwen/Qwen3-0.6B", min_vram_gb=1.8,
    ),
    # Demo helpers, one per purpose, listed after the real ones (helper_for prefers those):
    # the real architectures at tiny scale with random weights, so that tracking, motion
    # transfer with every control track and subject cutouts run on any machine.
    *(HelperModel(id=f"demo-{name}", label=demo_label(what), purpose=purpose,
                  description=f"A toy-sized {architecture} with random weights: {what} runs "
                              "on any machine, with meaningless results.",
                  model_class=model_class, source=None, min_vram_gb=0.1, builtin=True)
      for name, what, purpose, architecture, model_class in _DEMO_HELPERS),
)}


def helper_for(purpose: Purpose) -> HelperModel:
    """The helper that serves `purpose`: the first installed real one, else the demo one
    (while demo models are on), else the first real one listed (what an admin would
    install)."""
    real = [h for h in HELPERS.values() if h.purpose == purpose and not h.builtin]
    demo = [h for h in HELPERS.values() if h.purpose == purpose and h.builtin]
    return next((h for h in (*real, *demo) if h.is_installed()), real[0])


def build_helper(helper_id: str, scale: Scale = "tiny") -> tuple[Any, Any]:
    """(model, image processor or None) of the helper's architecture with random weights."""
    builders = {"background": _build_background, "depth": _build_depth,
                "people": _build_people, "pose": _build_pose, "segmentation": _build_sam2,
                "upscale": _build_upscale}
    helper = HELPERS[helper_id]
    if helper.purpose == "prompt":
        model, processor = _build_prompt(helper, scale)
    elif helper.purpose == "upscale" and scale == "full":
        model, processor = _build_upscale_classical(4 if helper_id.endswith("x4") else 2)
    else:
        model, processor = builders[helper.purpose](scale)
    if helper.builtin and helper.purpose == "background":
        # Random weights would call a photo background or not at random, and a demo cutout
        # would mostly fail: the demo keeps the whole photo as its subject.
        _subject_everywhere(model)
    return model.eval().requires_grad_(False), processor


def _subject_everywhere(model: Any) -> None:
    import torch

    with torch.no_grad():
        classifier = model.decode_head.classifier
        classifier.weight.zero_()
        classifier.bias.fill_(-5.0)
        classifier.bias[1] = 5.0  # a class other than the background (0)


def save_helper(helper_id: str, folder: Path, scale: Scale = "tiny", seed: int = 0) -> Path:
    """A random checkpoint in the Hub's folder layout, as `from_pretrained` reads it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor = build_helper(helper_id, scale)
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    else:  # the Hub's SAM 2 checkpoints carry one; the loader reads only the model
        (folder / "preprocessor_config.json").write_text(json.dumps(
            {"image_processor_type": "Sam2ImageProcessorFast"}))
    return folder


def _build_background(scale: Scale) -> tuple[Any, Any]:
    """A SegFormer of the B2 checkpoint's classes (18 ATR classes, background first)."""
    from transformers import (
        SegformerConfig,
        SegformerForSemanticSegmentation,
        SegformerImageProcessorPil,
    )

    labels = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants",
              "Dress", "Belt", "Left-shoe", "Right-shoe", "Face", "Left-leg", "Right-leg",
              "Left-arm", "Right-arm", "Bag", "Scarf"]
    if scale == "tiny":
        dims: dict[str, Any] = {"hidden_sizes": [8, 16, 24, 32], "depths": [1, 1, 1, 1],
                                "num_attention_heads": [1, 1, 1, 1],
                                "decoder_hidden_size": 16}
        size = 64
    else:  # mit-b2
        dims = {"hidden_sizes": [64, 128, 320, 512], "depths": [3, 4, 6, 3],
                "num_attention_heads": [1, 2, 5, 8], "decoder_hidden_size": 768}
        size = 512
    config = SegformerConfig(num_labels=len(labels),
                             id2label=dict(enumerate(labels)),
                             label2id={name: i for i, name in enumerate(labels)}, **dims)
    processor = SegformerImageProcessorPil(size={"height": size, "width": size})
    return SegformerForSemanticSegmentation(config), processor


def _build_depth(scale: Scale) -> tuple[Any, Any]:
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    stages = ["stage1", "stage2", "stage3", "stage4"]
    if scale == "tiny":
        backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                intermediate_size=64, image_size=56, patch_size=14,
                                out_features=stages, reshape_hidden_states=False)
        config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32,
                                     neck_hidden_sizes=[16, 16, 16, 16], fusion_hidden_size=16,
                                     head_hidden_size=8, patch_size=14)
        side = 56
    else:  # Depth-Anything-V2-Small-hf
        backbone = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                image_size=518, patch_size=14, layerscale_value=1.0,
                                out_indices=[3, 6, 9, 12], reshape_hidden_states=False)
        config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=384,
                                     neck_hidden_sizes=[48, 96, 192, 384],
                                     fusion_hidden_size=64, head_hidden_size=32, patch_size=14,
                                     depth_estimation_type="relative")
        side = 518
    processor = DPTImageProcessor(
        do_resize=True, size={"height": side, "width": side}, keep_aspect_ratio=True,
        ensure_multiple_of=14, resample=3, do_pad=False, do_normalize=True,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    return DepthAnythingForDepthEstimation(config), processor


def _build_people(scale: Scale) -> tuple[Any, Any]:
    import torch
    from transformers import (
        RTDetrConfig,
        RTDetrForObjectDetection,
        RTDetrImageProcessor,
        RTDetrResNetConfig,
    )

    # COCO's 80 classes as the checkpoint numbers them; only "person" is looked up by name.
    labels = {"id2label": {0: "person", **{i: f"LABEL_{i}" for i in range(1, 80)}}}
    if scale != "tiny":  # rtdetr_r50vd: the library's defaults
        return (RTDetrForObjectDetection(RTDetrConfig(**labels)),
                RTDetrImageProcessor(size={"height": 640, "width": 640}))
    backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128],
                                  depths=[1, 1, 1, 1], layer_type="basic",
                                  out_features=["stage2", "stage3", "stage4"])
    config = RTDetrConfig(
        backbone_config=backbone, encoder_hidden_dim=32, encoder_in_channels=[32, 64, 128],
        encoder_ffn_dim=64, encoder_attention_heads=2, encoder_layers=1, d_model=32,
        decoder_ffn_dim=64, decoder_layers=1, decoder_attention_heads=2, num_queries=20,
        decoder_n_points=2, num_feature_levels=3, decoder_in_channels=[32, 32, 32],
        eval_size=None, anchor_image_size=None, **labels)
    model = RTDetrForObjectDetection(config)
    # As with SAM 2: random weights would rarely see a person, and pose would draw nothing.
    with torch.no_grad():
        model.model.enc_score_head.bias[0] = 8.0
        for head in model.model.decoder.class_embed:
            head.bias[0] = 8.0
    return model, RTDetrImageProcessor(size={"height": 64, "width": 64})


def _build_pose(scale: Scale) -> tuple[Any, Any]:
    from transformers import (
        VitPoseBackboneConfig,
        VitPoseConfig,
        VitPoseForPoseEstimation,
        VitPoseImageProcessor,
    )

    if scale == "tiny":
        backbone = VitPoseBackboneConfig(hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, mlp_ratio=2,
                                         image_size=[64, 48], out_indices=[2])
        size = {"height": 64, "width": 48}
    else:  # vitpose-base-simple
        backbone = VitPoseBackboneConfig(hidden_size=768, num_hidden_layers=12,
                                         num_attention_heads=12, image_size=[256, 192],
                                         out_indices=[12])
        size = {"height": 256, "width": 192}
    config = VitPoseConfig(backbone_config=backbone, num_labels=17, use_simple_decoder=True)
    return VitPoseForPoseEstimation(config), VitPoseImageProcessor(size=size)


def _build_prompt(helper: HelperModel, scale: Scale) -> tuple[Any, Any]:
    """A causal language model of the helper's class with the demo's chat tokenizer: tiny, two
    layers over the demo words (its answers are short: see `Sampling`); full
    size, the configuration of Qwen2.5-0.5B-Instruct or Qwen3-0.6B."""
    import transformers

    from .prompting import build_chat_tokenizer

    tokenizer = build_chat_tokenizer()
    ids = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
           "bos_token_id": None, "tie_word_embeddings": True}
    config: Any
    if scale == "tiny":  # of the helper's own class: a Qwen 3 helper's tiny one is a Qwen 3
        config_class = (transformers.Qwen3Config if helper.model_class == "Qwen3ForCausalLM"
                        else transformers.Qwen2Config)
        config = config_class(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
            max_position_embeddings=32768, **ids)
    elif helper.model_class == "Qwen3ForCausalLM":
        config = transformers.Qwen3Config(
            vocab_size=151936, hidden_size=1024, intermediate_size=3072,
            num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
            max_position_embeddings=40960, rope_theta=1000000.0, **ids)
    else:
        config = transformers.Qwen2Config(
            vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
            num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
            rope_theta=1000000.0, **ids)
    model = getattr(transformers, helper.model_class)(config)
    if scale == "tiny":
        # A random model never says it is done: its noise stops after a line's worth.
        model.generation_config.max_new_tokens = 40
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _build_upscale(scale: Scale) -> tuple[Any, Any]:
    """Swin2SR: tiny, a x2 with the light upsampler (one convolution and a pixel shuffle), so
    that demo jobs take seconds; full size, the classical x2 checkpoint's architecture."""
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution
    from transformers import Swin2SRImageProcessorPil as Processor

    if scale != "tiny":
        return _build_upscale_classical(2)
    config = Swin2SRConfig(image_size=64, embed_dim=8, depths=[1], num_heads=[1],
                           window_size=8, mlp_ratio=2.0, upscale=2,
                           upsampler="pixelshuffledirect")
    return Swin2SRForImageSuperResolution(config), Processor(size_divisor=8)


def _build_upscale_classical(factor: int) -> tuple[Any, Any]:
    """swin2SR-classical-sr-x2-64 and -x4-64: the library's defaults at their factor."""
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution
    from transformers import Swin2SRImageProcessorPil as Processor

    return (Swin2SRForImageSuperResolution(Swin2SRConfig(upscale=factor)),
            Processor(size_divisor=8))


def _build_sam2(scale: Scale) -> tuple[Any, None]:
    import torch
    from transformers import (
        Sam2HieraDetConfig,
        Sam2VideoConfig,
        Sam2VideoMaskDecoderConfig,
        Sam2VideoModel,
        Sam2VideoPromptEncoderConfig,
        Sam2VisionConfig,
    )

    if scale != "tiny":  # sam2.1-hiera-tiny: the library's defaults but for the backbone
        hiera = Sam2HieraDetConfig(hidden_size=96, num_attention_heads=1,
                                   blocks_per_stage=[1, 2, 7, 2],
                                   embed_dim_per_stage=[96, 192, 384, 768],
                                   num_attention_heads_per_stage=[1, 2, 4, 8],
                                   global_attention_blocks=[5, 7, 9])
        vision = Sam2VisionConfig(backbone_config=hiera)
        return Sam2VideoModel(Sam2VideoConfig(vision_config=vision)), None
    # The memory's width is fixed at 64; the model's own width must be a multiple above it.
    side, width = 128, 128
    hiera = Sam2HieraDetConfig(hidden_size=16, num_attention_heads=1, image_size=[side, side],
                               blocks_per_stage=[1, 1, 2, 1],
                               embed_dim_per_stage=[16, 32, 64, 128],
                               num_attention_heads_per_stage=[1, 1, 1, 1],
                               window_size_per_stage=[4, 4, 4, 4], global_attention_blocks=[3],
                               window_positional_embedding_background_size=[2, 2])
    vision = Sam2VisionConfig(
        backbone_config=hiera, backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[side // 4] * 2, [side // 8] * 2, [side // 16] * 2],
        fpn_hidden_size=width)
    config = Sam2VideoConfig(
        vision_config=vision, image_size=side,
        # Config objects, not dicts: transformers 5.x on the GPU image built the mask decoder
        # from a dict with the prompt encoder's config class.
        prompt_encoder_config=Sam2VideoPromptEncoderConfig(
            hidden_size=width, image_size=side, patch_size=16, mask_input_channels=4),
        mask_decoder_config=Sam2VideoMaskDecoderConfig(
            hidden_size=width, mlp_dim=64, num_hidden_layers=1, num_attention_heads=2,
            iou_head_hidden_dim=32),
        memory_attention_hidden_size=width, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[side // 16, side // 16],
        memory_encoder_hidden_size=width, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=width, memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=64, num_maskmem=3)
    model = Sam2VideoModel(config)
    # Random weights would mostly say "no object here" and every mask would be empty: the
    # tiny model is made to see one, so its masks follow the clicks.
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(10.0)
    return model, None
