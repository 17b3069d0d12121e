"""The tiny preset, a random Wan 2.1 built by the Wan family's builder at tiny scale:
deterministic, quick, coloured, and saved/loaded like a Hub checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import WanPipeline

from worker.catalogue import build_pipeline
from worker.catalogue.tokenizer import MAX_SEQUENCE_LENGTH, build_tokenizer
from worker.runtime.runner import frames_to_uint8


def build_tiny_pipeline(seed: int = 0) -> WanPipeline:
    return build_pipeline("tiny", "tiny", seed=seed)


def _generate(pipeline: WanPipeline, seed: int = 7) -> np.ndarray:
    output = pipeline(
        prompt="a lighthouse at dusk",
        height=96,
        width=160,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    )
    return frames_to_uint8(output.frames[0])


def _weights(pipeline: WanPipeline) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value
        for name in ("text_encoder", "transformer", "vae")
        for key, value in getattr(pipeline, name).state_dict().items()
    }


def test_same_seed_builds_the_same_weights():
    first, second = _weights(build_tiny_pipeline(3)), _weights(build_tiny_pipeline(3))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_other_seed_builds_other_weights():
    first, other = _weights(build_tiny_pipeline(3)), _weights(build_tiny_pipeline(4))
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_building_leaves_the_global_rng_alone():
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    build_tiny_pipeline(0)
    assert torch.equal(torch.rand(3), expected)


def test_tokenizer_pads_to_max_length_and_ends_with_eos():
    tokenizer = build_tokenizer()
    encoded = tokenizer(
        ["a cat", "日本語 🦊"],
        padding="max_length",
        max_length=MAX_SEQUENCE_LENGTH,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    assert encoded.input_ids.shape == (2, MAX_SEQUENCE_LENGTH)
    lengths = encoded.attention_mask.sum(dim=1).tolist()
    assert encoded.input_ids[0, lengths[0] - 1] == tokenizer.eos_token_id
    assert encoded.input_ids[0, lengths[0]] == tokenizer.pad_token_id
    assert tokenizer.unk_token_id not in encoded.input_ids[1, : lengths[1]].tolist()


def test_two_steps_make_uint8_frames_of_the_asked_shape():
    pipeline = build_tiny_pipeline()
    pipeline.set_progress_bar_config(disable=True)
    frames = _generate(pipeline)
    assert frames.shape == (5, 96, 160, 3)
    assert frames.dtype == np.uint8
    assert frames.std() > 10, "the tiny model should make visible colour, not flat grey"


def test_saved_checkpoint_loads_back_and_makes_the_same_frames(tmp_path: Path):
    pipeline = build_tiny_pipeline()
    pipeline.set_progress_bar_config(disable=True)
    pipeline.save_pretrained(tmp_path / "tiny")

    loaded = WanPipeline.from_pretrained(tmp_path / "tiny", local_files_only=True)
    loaded.set_progress_bar_config(disable=True)

    saved, restored = _weights(pipeline), _weights(loaded)
    assert saved.keys() == restored.keys()
    assert all(torch.equal(saved[key], restored[key]) for key in saved)
    # Weights read from the file sit at unaligned addresses, which sends CPU matmuls down other
    # kernels: the sums may differ in the last float bit, never by more than one level of 255.
    difference = np.abs(_generate(loaded).astype(int) - _generate(pipeline).astype(int))
    assert difference.max() <= 1
