"""LTX-2: video and its sound made together (one transformer with a video and an audio stream
that attend to each other), from a prompt or a start image, at 24 fps; Gemma 3 reads the
prompt. The pipeline returns the frames and a waveform (its vocoder's, 24 kHz in the real
checkpoint), which the worker muxes into the MP4 as AAC.

The model always makes the sound with the picture (the two streams steer each other): "with
sound" off leaves the track out of the video, it saves no time.

Image-to-video takes keyframes (images at later frames) through LTX2ConditionPipeline, built
from the same components.
"""

from __future__ import annotations

from typing import Any

from .base import Ability, Family, MemoryNeeds, Preset, Scale, Task
from .calls import CallAdapter
from .demo import DEMO_LIMITS, demo_description, demo_label
from .figures import decode_gb
from .request import AudioTrack, GenerationRequest
from .tokenizer import build_tokenizer

# Gemma 3 12B in bf16 (12.2 B parameters, its vision tower included: the checkpoint ships the
# whole model).
GEMMA3_12B_GB = 22.8
# Its token embedding (262,208 × 3,840 in bf16) and the encoding's working memory.
GEMMA3_LEAF_GB = 2.4

# What the video VAE's blocks compress (a spatial, a temporal and two spatio-temporal halvings
# after 4x4 patches), as LTX-2's config states it: the class would count all four blocks as
# halving both.
VAE_RATIOS = {"spatial_compression_ratio": 32, "temporal_compression_ratio": 8}
# Keyframes go to the condition pipeline; a start image alone stays on the image-to-video one.
KEYFRAME_PIPELINE = "LTX2ConditionPipeline"

DEMO_LTX2 = Preset(
    id="demo-ltx2",
    label=demo_label("video with sound (LTX-2)"),
    description=demo_description("LTX-2 (picture and sound together)"),
    **DEMO_LIMITS,
    family="ltx2",
    pipeline_class="LTX2Pipeline",
    abilities=frozenset({Ability.TEXT, Ability.IMAGE, Ability.KEYFRAMES}),
    tasks={Task.T2V: "LTX2Pipeline", Task.I2V: "LTX2ImageToVideoPipeline"},
    keyframe_pipeline_class=KEYFRAME_PIPELINE,
    max_keyframes=3,
    min_frames=9,
    frame_step=8,
    default_guidance=3.0,
    max_guidance=15.0,
    makes_sound=True,
    # A toy text encoder reads a short prompt as well as a long one: keep the CPU work small.
    call_defaults={"max_sequence_length": 64},
)

PRESETS = (
    Preset(
        id="ltx-2",
        label="LTX-2 19B (video with sound, 24 fps)",
        description=(
            "Lightricks' LTX-2: video and its sound (speech, music, ambience) made together, "
            "from a prompt or a start image; 768×512-class clips at 24 fps, up to 10 seconds."
        ),
        family="ltx2",
        pipeline_class="LTX2Pipeline",
        source="Lightricks/LTX-2",
        abilities=frozenset({Ability.TEXT, Ability.IMAGE, Ability.KEYFRAMES}),
        tasks={Task.T2V: "LTX2Pipeline", Task.I2V: "LTX2ImageToVideoPipeline"},
        keyframe_pipeline_class=KEYFRAME_PIPELINE,
        # Each keyframe adds one latent frame of tokens (384 at 768x512, 6 % of a 121-frame
        # clip's 6,144): four add a quarter to the denoiser's working memory, which the memory
        # figures below do not count (they are not calibrated on a GPU yet either).
        max_keyframes=4,
        default_width=768,
        default_height=512,
        sizes=((768, 512), (512, 768), (1280, 704), (704, 1280)),
        min_frames=9,
        max_frames=257,
        default_frames=121,
        frame_step=8,
        default_steps=40,
        max_steps=100,
        default_guidance=4.0,
        max_guidance=15.0,
        fps=24,
        makes_sound=True,
        # Weights are the parameter bytes of the full build in bf16 (counted on the meta
        # device); the working memory is estimated, not yet calibrated on a GPU.
        memory=MemoryNeeds(
            transformer_gb=35.2,  # 18.9 B parameters: the video and audio streams
            text_encoder_gb=GEMMA3_12B_GB,
            # The text connectors (1.43 B), the video VAE (1.22 B), the audio VAE and the
            # vocoder (0.05 B each).
            other_gb=5.2,
            # 6,144 video tokens (and 126 audio ones) a pass; guidance runs up to four passes
            # a step (text, spatio-temporal and modality guidance), batched two by two.
            activation_gb=4.0,
            decode_gb=decode_gb(768, 512, 121, chunk_gb_per_mp=0, voxel_bytes=104),
            tiled_decode_gb=5.0,
            blocks=48,
            step_s=4.0,
            encoder_leaf_gb=GEMMA3_LEAF_GB,
        ),
    ),
    DEMO_LTX2,
)


def build_ltx2(preset_id: str, scale: Scale) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    tokenizer = build_tokenizer()
    text_encoder = _gemma3(scale, len(tokenizer))
    text = text_encoder.config.text_config
    if scale == "tiny":
        transformer = LTX2VideoTransformer3DModel(
            in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
            num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
            audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
            audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=1,
            qk_norm="rms_norm_across_heads", caption_channels=text.hidden_size,
            rope_double_precision=False, rope_type="split",
        )
        connectors = LTX2TextConnectors(
            caption_channels=text.hidden_size, text_proj_in_factor=text.num_hidden_layers + 1,
            video_connector_num_attention_heads=2, video_connector_attention_head_dim=8,
            video_connector_num_layers=1, video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=2, audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1, audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32, rope_double_precision=False, rope_type="split",
        )
        # The real compression (4x4 patches, then 8x in space and time) at toy widths, doubling
        # block to block as the real ones do (the upsamplers halve the channels).
        video_vae = AutoencoderKLLTX2Video(
            latent_channels=8, block_out_channels=(4, 8, 16, 32),
            decoder_block_out_channels=(8, 16, 32), layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1), **VAE_RATIOS,
        )
        # A mel hop of 16 samples, and a vocoder that upsamples by 16: the waveform lasts as
        # long as the clip, as the real pair's 160-sample hop and 160x vocoder make it.
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1,
            attn_resolutions=None, in_channels=2, resolution=32, latent_channels=2,
            norm_type="pixel", causality_axis="height", dropout=0.0,
            mid_block_add_attention=False, sample_rate=16000, mel_hop_length=16,
            is_causal=True, mel_bins=8,
        )
        vocoder = LTX2Vocoder(
            in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
            hidden_channels=16, out_channels=2, upsample_kernel_sizes=[8, 8],
            upsample_factors=[4, 4], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
            output_sampling_rate=16000,
        )
    else:  # LTX-2 (19B): the classes' defaults are its config
        transformer = LTX2VideoTransformer3DModel()
        connectors = LTX2TextConnectors()
        video_vae = AutoencoderKLLTX2Video(**VAE_RATIOS)
        audio_vae = AutoencoderKLLTX2Audio()
        vocoder = LTX2Vocoder()
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "connectors": connectors,
        "transformer": transformer,
        "vae": video_vae,
        "audio_vae": audio_vae,
        "vocoder": vocoder,
        "scheduler": FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
            max_image_seq_len=4096, shift_terminal=0.1,
        ),
    }


def _gemma3(scale: Scale, vocab: int) -> Any:
    """Gemma 3 12B (the text encoder LTX-2 ships), or a toy one with the tokenizer's vocabulary."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    text: dict[str, Any]
    if scale == "tiny":
        text = {"vocab_size": vocab, "hidden_size": 16, "intermediate_size": 32,
                "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                "head_dim": 8, "sliding_window": 16}
        vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                  "num_attention_heads": 2, "image_size": 28, "patch_size": 14}
        return Gemma3ForConditionalGeneration(Gemma3Config(
            text_config=text, vision_config=vision, mm_tokens_per_image=4))
    text = {"vocab_size": 262208, "hidden_size": 3840, "intermediate_size": 15360,
            "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 8,
            "head_dim": 256, "sliding_window": 1024, "rope_scaling": {
                "rope_type": "linear", "factor": 8.0}}
    vision = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
              "num_attention_heads": 16, "image_size": 896, "patch_size": 14}
    return Gemma3ForConditionalGeneration(Gemma3Config(
        text_config=text, vision_config=vision, mm_tokens_per_image=256))


class Ltx2Calls(CallAdapter):
    """LTX-2 is told the frame rate (its sound's length follows from it); its output carries
    the waveform beside the frames, at its vocoder's sampling rate. Keyframes go to the
    condition pipeline as `LTX2VideoCondition`s, the start image first."""

    def pipeline_kwargs(self, preset: Preset, request: GenerationRequest) -> dict[str, Any]:
        return {**super().pipeline_kwargs(preset, request), "frame_rate": float(preset.fps)}

    def inputs(
        self, task: Task, preset: Preset, request: GenerationRequest, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if task != Task.I2V or not request.keyframes:
            return super().inputs(task, preset, request, kwargs)
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        start = self.image(request, request.image, "start image")
        # The pipeline places a condition by latent frame (as LTX-2's own code does): the one
        # holding video frames 8k-7 to 8k is the k-th, so a keyframe at frame 8k is in it.
        return {"conditions": [LTX2VideoCondition(frames=start, index=0, strength=1.0)] + [
            LTX2VideoCondition(frames=self.image(request, keyframe.image,
                                                 f"keyframe at frame {keyframe.frame}"),
                               index=keyframe.frame // preset.frame_step,
                               strength=float(keyframe.strength))
            for keyframe in request.keyframes
        ]}

    def task_components(self, class_name: str, pipeline: Any) -> dict[str, Any]:
        if class_name != KEYFRAME_PIPELINE:
            return {}
        # The condition pipeline records its tokenizer's padding side when it is built (its
        # connectors read the prompt's tokens by it) but pads on the left when it encodes, as
        # every LTX-2 pipeline does; the other pipelines leave the shared tokenizer on the left
        # once they have encoded a prompt. Built with a left-padding copy, it reads the tokens
        # as they are padded, whichever job ran before (measured: up to 7/255 apart otherwise).
        import copy

        tokenizer = copy.deepcopy(pipeline.tokenizer)
        tokenizer.padding_side = "left"
        return {"tokenizer": tokenizer}

    def audio(self, pipeline: Any, output: Any) -> AudioTrack | None:
        waveform = getattr(output, "audio", None)
        if waveform is None:
            return None
        samples = waveform[0].float().cpu().numpy()  # (channels, samples)
        return AudioTrack(samples, int(pipeline.vocoder.config.output_sampling_rate))


FAMILY = Family(name="ltx2", presets=PRESETS, build=build_ltx2, calls=Ltx2Calls())
