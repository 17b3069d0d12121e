"""Benchmarks build random weights in code: each weight must get the dtype that loading a
real checkpoint on a GPU gives it, or the memory and time they measure are not the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from worker.catalogue import CATALOGUE, FAMILIES, build_pipeline
from worker.runtime.cache import _from_folder

ONE_PER_FAMILY = sorted(
    next(p.id for p in family.presets if not p.builtin) for family in FAMILIES.values()
)


def _dtypes(pipeline: object) -> dict[str, torch.dtype]:
    return {
        f"{name}.{key}": tensor.dtype
        for name, component in pipeline.components.items()
        if isinstance(component, torch.nn.Module)
        for key, tensor in component.state_dict().items()
    }


@pytest.mark.parametrize("preset_id", ONE_PER_FAMILY)
def test_built_bf16_weights_have_the_dtypes_of_a_loaded_checkpoint(preset_id: str, tmp_path: Path):
    preset = CATALOGUE[preset_id]
    build_pipeline(preset_id, "tiny", seed=0).save_pretrained(tmp_path)
    loaded = _from_folder(preset.pipeline_class, tmp_path, torch.device("cuda"),
                          preset.fp32_components)
    built = build_pipeline(preset_id, "tiny", seed=0, dtype=torch.bfloat16)
    expected, actual = _dtypes(loaded), _dtypes(built)
    assert expected.keys() == actual.keys()
    wrong = {key: (actual[key], expected[key]) for key in expected if actual[key] != expected[key]}
    assert not wrong, f"built vs loaded dtypes differ: {dict(list(wrong.items())[:5])}"
    assert torch.bfloat16 in set(actual.values())
