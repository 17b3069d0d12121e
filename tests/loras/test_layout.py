"""Reading a LoRA from its tensor names and shapes: every naming gives diffusers' layer names
(as diffusers' own converters do), and the base model it fits is found by shape."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import WanPipeline

from tests.loras.files import lora_tensors
from worker.catalogue.lora_targets import TABLE, build_table, lora_bases
from worker.catalogue.loras import (
    LoraRefused,
    fit_refusal,
    fitting_presets,
    made_for,
    read_layout,
)


def _shapes(tensors: dict[str, torch.Tensor]) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {key: ("F32", tuple(t.shape)) for key, t in tensors.items()}


def _diffusers_layers(tensors: dict[str, torch.Tensor]) -> set[str]:
    converted = WanPipeline.lora_state_dict(dict(tensors))
    return {key.removeprefix("transformer.").rsplit(".lora_", 1)[0] for key in converted}


@pytest.mark.parametrize("fmt", ["diffusers", "peft", "wan", "kohya"])
def test_every_naming_reads_as_diffusers_layer_names(fmt):
    reference = read_layout(_shapes(lora_tensors("tiny", fmt="diffusers")))
    layout = read_layout(_shapes(lora_tensors("tiny", fmt=fmt)))
    assert set(layout.layers) == set(reference.layers)
    assert len(layout.layers) == 20  # 2 blocks × (8 attention + 2 feed-forward) layers
    assert layout.rank == 4
    assert fitting_presets(layout) == ["tiny"]


@pytest.mark.parametrize("fmt", ["wan", "kohya"])
def test_original_and_kohya_names_map_as_diffusers_converts_them(fmt):
    # The 1.3B's names (30 blocks), the first two layers of each kind: diffusers' Wan converter
    # is the reference for what the worker's loader will see.
    tensors = lora_tensors("wan2.1-t2v-1.3b", fmt=fmt, rank=2,
                           choose=lambda n: n.startswith(("blocks.0.", "blocks.1.")))
    assert set(read_layout(_shapes(tensors)).layers) == _diffusers_layers(tensors)


def test_alpha_scales_the_product_by_alpha_over_rank():
    tensors = lora_tensors("tiny", fmt="wan", rank=4, limit=1)
    key = next(k for k in tensors if k.endswith(".alpha"))
    layout = read_layout(_shapes(tensors), alphas={key: 2.0})
    assert next(iter(layout.layers.values())).scale == 0.5


def test_a_14b_lora_is_named_as_such_when_refused_for_the_1_3b():
    layout = read_layout(_shapes(lora_tensors("wan2.1-t2v-14b", rank=2, limit=2)))
    assert made_for(fitting_presets(layout)) == "Wan 2.1 14B"
    message = fit_refusal(layout, "wan2.1-t2v-1.3b")
    assert message is not None
    assert message.startswith("This LoRA is for Wan 2.1 14B, not Wan 2.1 1.3B: its layer "
                              "blocks.0.attn1.to_k maps 5120 to 5120 features; in Wan 2.1 1.3B "
                              "it maps 1536 to 1536")
    assert fit_refusal(layout, None) is None
    assert fit_refusal(layout, "wan2.1-vace-14b") is None  # VACE 14B has the same blocks


def test_an_ltx_lora_fits_only_ltx():
    layout = read_layout(_shapes(lora_tensors("ltx-video", rank=2, limit=4,
                                              choose=lambda n: n.startswith("transformer_"))))
    assert fitting_presets(layout) == ["ltx-video"]
    assert fit_refusal(layout, "tiny") is not None
    assert "LTX-Video 2B" in (fit_refusal(layout, "wan2.1-t2v-1.3b") or "")


@pytest.mark.parametrize(("tensors", "says"), [
    ({"transformer.blocks.0.attn1.to_q.weight": ("F32", (24, 24))}, "not a LoRA we recognise"),
    ({"transformer.blocks.0.attn1.to_q.lora_A.weight": ("F32", (4, 24))}, "only one of"),
    ({"transformer.blocks.0.attn1.to_q.lora_A.weight": ("F32", (4, 24)),
      "transformer.blocks.0.attn1.to_q.lora_B.weight": ("F32", (24, 8))}, "ranks 4 and 8"),
    ({"transformer.blocks.0.attn1.to_q.lora_A.weight": ("F32", (256, 24)),
      "transformer.blocks.0.attn1.to_q.lora_B.weight": ("F32", (24, 256))}, "rank 256"),
    ({"transformer.blocks.0.attn1.to_q.lora_A.weight": ("I64", (4, 24))}, "of type I64"),
    ({"diffusion_model.blocks.0.norm3.diff": ("F32", (24,))}, "not supported"),
])
def test_what_is_not_a_usable_lora_is_refused_with_a_reason(tensors, says):
    with pytest.raises(LoraRefused) as refused:
        read_layout(tensors)
    assert says in refused.value.message


def test_a_lora_for_no_model_here_says_which_layer_is_wrong():
    tensors = {"transformer.single_blocks.0.linear1.lora_A.weight": ("F32", (4, 3072)),
               "transformer.single_blocks.0.linear1.lora_B.weight": ("F32", (21504, 4))}
    message = fit_refusal(read_layout(tensors), None) or ""
    assert message.startswith("This LoRA fits none of the models here.")
    assert "single_blocks.0.linear1" in message


def test_the_layer_table_matches_the_catalogues_builders():
    # Rebuilt on the meta device from every preset's builder: `python -m
    # worker.catalogue.lora_targets` rewrites the file when a preset is added or changed.
    table = json.loads(TABLE.read_text())
    for preset_id, architecture in table["presets"].items():
        built = {name: list(shape) for name, shape in build_table(preset_id).items()}
        assert built == table["architectures"][architecture], preset_id
    assert list(table["presets"]) == lora_bases()
