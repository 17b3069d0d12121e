"""LTX-2 keyframes on the CPU: the tiny LTX-2 checkpoint through the production loader, its
condition pipeline built from the same components, the same frames as plain diffusers' given
the same conditions, and what the adapter hands the pipeline."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
from PIL import Image
from transformers import AutoTokenizer

from worker.catalogue import (
    CATALOGUE,
    Ability,
    GenerationRequest,
    Keyframe,
    build_pipeline,
    family_of,
    get_preset,
)
from worker.catalogue.ltx2 import KEYFRAME_PIPELINE
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import frames_to_uint8, run_generation

LTX2 = "ltx-2"
SIDE = 128


def _image(colour: tuple[int, int, int], size: tuple[int, int] = (SIDE, SIDE)) -> Image.Image:
    return Image.new("RGB", size, colour)


def _request(**fields: object) -> GenerationRequest:
    values: dict[str, object] = {
        "preset_id": LTX2, "task": "i2v", "prompt": "a brass band on a pier",
        "negative_prompt": "", "width": SIDE, "height": SIDE, "num_frames": 17, "steps": 2,
        "guidance": 1.0, "seed": 3, "image": _image((200, 30, 30)), **fields}
    return GenerationRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
def folder(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny LTX-2 checkpoint in the models folder, the preset at the toy size."""
    monkeypatch.setitem(CATALOGUE, LTX2, dataclasses.replace(
        get_preset(LTX2), sizes=((SIDE, SIDE),), default_width=SIDE, default_height=SIDE,
        default_frames=17))
    build_pipeline(LTX2, "tiny", seed=0).save_pretrained(offline_model_store / LTX2)
    return offline_model_store / LTX2


def test_ltx2_and_its_demo_take_keyframes_through_the_condition_pipeline():
    for preset_id in (LTX2, "demo-ltx2"):
        preset = get_preset(preset_id)
        assert preset.supports(Ability.KEYFRAMES) and preset.max_keyframes >= 3
        assert preset.keyframe_pipeline_class == KEYFRAME_PIPELINE
        assert hasattr(diffusers, KEYFRAME_PIPELINE)
        assert preset.keyframe_frames(17) == (8, 16)  # on the latent frames' boundaries


def test_the_adapter_puts_the_start_image_first_and_places_keyframes_by_latent_frame():
    preset = get_preset(LTX2)
    request = _request(width=768, height=512, keyframes=(
        Keyframe(_image((0, 0, 220), (90, 160)), 16, 0.25), Keyframe(_image((0, 220, 0)), 8)))
    calls = family_of(preset).calls
    kwargs = calls.pipeline_kwargs(preset, request)
    assert "image" not in kwargs and kwargs["frame_rate"] == 24.0
    conditions = kwargs["conditions"]
    assert [(c.index, c.strength) for c in conditions] == [(0, 1.0), (2, 0.25), (1, 1.0)]
    assert {c.frames.size for c in conditions} == {(768, 512)}
    assert calls.pipeline_class(preset, request) == KEYFRAME_PIPELINE
    assert calls.pipeline_class(preset, _request()) == "LTX2ImageToVideoPipeline"


def test_a_keyframed_job_is_plain_diffusers_condition_pipeline_with_its_sound(folder: Path):
    cache = PipelineCache()
    keyframes = (Keyframe(_image((0, 0, 220)), 8, 1.0), Keyframe(_image((0, 220, 0)), 16, 0.6))
    steps: list[int] = []
    job = run_generation(_request(keyframes=keyframes), lambda info: steps.append(info.step),
                         cache)
    assert steps == [1, 2]
    assert job.frames.shape == (17, SIDE, SIDE, 3)
    assert job.audio is not None and job.audio.samples.size > 0
    # Gemma pads prompts on the left, which the pipeline records from its tokenizer.
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer", padding_side="left")
    pipeline = diffusers.LTX2ConditionPipeline.from_pretrained(folder, tokenizer=tokenizer)
    pipeline.set_progress_bar_config(disable=True)
    reference = pipeline(
        conditions=[LTX2VideoCondition(frames=_image((200, 30, 30)), index=0),
                    LTX2VideoCondition(frames=_image((0, 0, 220)), index=1, strength=1.0),
                    LTX2VideoCondition(frames=_image((0, 220, 0)), index=2, strength=0.6)],
        prompt="a brass band on a pier", negative_prompt=None, height=SIDE, width=SIDE,
        num_frames=17, num_inference_steps=2, guidance_scale=1.0, frame_rate=24.0,
        generator=torch.Generator("cpu").manual_seed(3), output_type="np")
    assert np.array_equal(job.frames, frames_to_uint8(reference.frames[0]))

    # A start image alone stays on the image-to-video pipeline, beside it on one transformer;
    # the keyframes made a different clip.
    plain_job = run_generation(_request(), lambda info: None, cache)
    loaded = cache.get_loaded(LTX2)
    assert set(loaded.variants) == {"LTX2ImageToVideoPipeline", KEYFRAME_PIPELINE}
    assert loaded.variants[KEYFRAME_PIPELINE].transformer is loaded.pipeline.transformer
    assert not np.array_equal(job.frames, plain_job.frames)
    assert cache.loads == 1
    # On a pipeline that ran a start-image job first (its condition pipeline built after it),
    # the keyframed job makes the same frames.
    warm = PipelineCache()
    run_generation(_request(), lambda info: None, warm)
    again = run_generation(_request(keyframes=keyframes), lambda info: None, warm)
    assert np.array_equal(again.frames, job.frames)
