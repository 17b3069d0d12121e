"""LTX-Video 2B: quick clips at 25 fps from a prompt or a start image, with keyframes (images
at later frames, each with a strength) through `LTXConditionPipeline`; its pipelines are told
the frame rate.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter, strength_steps
from .components import t5
from .demo import DEMO_LIMITS, demo_description, demo_label
from .figures import T5_LEAF_GB, T5_XXL_GB, decode_gb
from .request import GenerationRequest
from .tokenizer import build_tokenizer

KEYFRAME_PIPELINE = "LTXConditionPipeline"

# Keyframes and extension on any machine (LTX's latent frames are 8 video frames apart).
DEMO_LTX = Preset(
    id="demo-ltx",
    label=demo_label("keyframes and extend (LTX-Video)"),
    description=demo_description("LTX-Video"),
    **DEMO_LIMITS,
    family="ltx",
    pipeline_class="LTXPipeline",
    abilities=frozenset({Ability.TEXT, Ability.IMAGE, Ability.VIDEO, Ability.KEYFRAMES}),
    tasks={Task.I2V: "LTXImageToVideoPipeline", Task.EXTEND: "LTXConditionPipeline"},
    keyframe_pipeline_class=KEYFRAME_PIPELINE,
    max_keyframes=3,
    min_frames=9,
    frame_step=8,
    default_guidance=3.0,
    max_guidance=15.0,
    call_defaults={"decode_timestep": 0.03, "decode_noise_scale": 0.025},
)
PRESETS = (
    Preset(
        id="ltx-video",
        label="LTX-Video 2B (fast, 25 fps)",
        description=(
            "Lightricks' LTX-Video: quick 768×512-class clips at 25 fps from a prompt or "
            "a start image; up to 10 seconds."
        ),
        family="ltx",
        pipeline_class="LTXPipeline",
        source="Lightricks/LTX-Video",
        abilities=frozenset({Ability.TEXT, Ability.IMAGE, Ability.VIDEO, Ability.KEYFRAMES}),
        tasks={Task.T2V: "LTXPipeline", Task.I2V: "LTXImageToVideoPipeline",
               Task.V2V: "LTXConditionPipeline", Task.EXTEND: "LTXConditionPipeline"},
        max_input_frames=257,
        # A start image alone stays on LTXImageToVideoPipeline: the condition pipeline samples
        # on another schedule and noises the conditioned frames, so its videos differ.
        keyframe_pipeline_class=KEYFRAME_PIPELINE,
        # Each keyframe adds one latent frame of tokens (330 at 704x480): eight add 38 % to
        # the denoiser's working memory, still under the decode's peak.
        max_keyframes=8,
        default_width=704,
        default_height=480,
        sizes=((704, 480), (480, 704), (768, 512), (512, 768)),
        min_frames=9,
        max_frames=257,
        default_frames=161,
        frame_step=8,
        default_steps=50,
        max_steps=100,
        default_guidance=3.0,
        max_guidance=15.0,
        fps=25,
        call_defaults={"decode_timestep": 0.03, "decode_noise_scale": 0.025},
        memory=MemoryNeeds(
            transformer_gb=3.6,  # 1.92 B parameters
            text_encoder_gb=T5_XXL_GB,
            other_gb=0.8,  # the VAE in bf16: 0.42 B parameters
            activation_gb=0.9,  # CFG in one batch of 2 × 6,930 tokens: traced 0.85 GiB
            # 5.3; measured 5.2. The whole clip at once: 104 bytes a voxel.
            decode_gb=decode_gb(704, 480, 161, chunk_gb_per_mp=0, voxel_bytes=104),
            tiled_decode_gb=4.5,  # traced 3.69 GiB: two tiles across, every frame at once
            blocks=28,
            step_s=0.55,  # measured on an H200 (docs/performance.md)
            encoder_leaf_gb=T5_LEAF_GB,
        ),
    ),
    DEMO_LTX,
)


def build_ltx(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXVideoTransformer3DModel,
    )

    tokenizer = build_tokenizer()
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
        "text_encoder": t5(scale, len(tokenizer)),
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
            max_image_seq_len=4096, shift_terminal=0.1,
        ),
    }


class LtxCalls(CallAdapter):
    """LTX conditions on the frame rate the clip will play at. A video is restyled from its
    own latents, `strength` of the way down the schedule (LTXConditionPipeline's denoise
    strength); a clip is extended from its last frames as a video condition at frame 0;
    keyframes go to the condition pipeline as `LTXVideoCondition`s, the start image first at
    frame 0."""

    def pipeline_kwargs(self, preset: Preset, request: GenerationRequest) -> dict[str, Any]:
        return {**super().pipeline_kwargs(preset, request), "frame_rate": preset.fps}

    def inputs(
        self, task: Task, preset: Preset, request: GenerationRequest, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if task == Task.V2V:
            return {"restyle": self.video(request),
                    "denoise_strength": request.strength or preset.default_strength}
        if task == Task.EXTEND:
            return {"video": self.video(request), "frame_index": 0, "strength": 1.0}
        if task != Task.I2V or not request.keyframes:
            return super().inputs(task, preset, request, kwargs)
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        start = self.image(request, request.image, "start image")
        return {"conditions": [LTXVideoCondition(image=start, frame_index=0, strength=1.0)] + [
            LTXVideoCondition(image=self.image(request, keyframe.image,
                                               f"keyframe at frame {keyframe.frame}"),
                              frame_index=keyframe.frame, strength=float(keyframe.strength))
            for keyframe in request.keyframes
        ]}

    def task_components(self, class_name: str, pipeline: Any) -> dict[str, Any]:
        if class_name != KEYFRAME_PIPELINE:
            return {}
        # The condition pipeline passes its own sigma schedule, which a dynamically shifted
        # scheduler refuses (it wants `mu`): LTX 0.9.5's scheduler, the same but unshifted.
        from diffusers import FlowMatchEulerDiscreteScheduler

        return {"scheduler": FlowMatchEulerDiscreteScheduler.from_config(
            pipeline.scheduler.config, use_dynamic_shifting=False)}

    def expected_callbacks(self, preset: Preset, request: GenerationRequest, pipeline: Any) -> int:
        return strength_steps(preset, request)

    def prepare(self, pipeline: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        frames = kwargs.pop("restyle", None)
        if frames is None:
            return kwargs
        return {**kwargs, "latents": _encoded(pipeline, frames, kwargs)}


def _encoded(pipeline: Any, frames: list[Any], kwargs: dict[str, Any]) -> Any:
    """The video's normalized VAE latents, (1, C, F, H, W): where a restyle starts from."""
    import torch
    from diffusers.pipelines.ltx.pipeline_ltx_condition import retrieve_latents

    vae = pipeline.vae
    video = pipeline.video_processor.preprocess_video(frames, kwargs["height"], kwargs["width"])
    with torch.no_grad():
        latents = retrieve_latents(vae.encode(video.to(pipeline._execution_device, vae.dtype)),
                                   sample_mode="argmax")
    return pipeline._normalize_latents(latents, vae.latents_mean, vae.latents_std).float()


FAMILY = Family(name="ltx", presets=PRESETS, build=build_ltx, calls=LtxCalls())
