"""LoRAs on a warm pipeline through the worker's runtime: applied, combined, swapped and turned
off without reloading the model, and without recompiling a compiled transformer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from tests.loras.files import lora_path
from worker.catalogue import ErrorCode, GenerationError, GenerationRequest, build_pipeline
from worker.catalogue.request import LoraWeights
from worker.runtime.cache import PipelineCache
from worker.runtime.loras import adapters_of, apply_loras, slots_gb
from worker.runtime.runner import run_generation


@pytest.fixture(autouse=True)
def _offline(offline_model_store: Path) -> None:
    """Offline, on the CPU (tests/conftest.py)."""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loras")
    return {
        "style": lora_path(folder, "style", "tiny", seed=1),
        "subject": lora_path(folder, "subject", "tiny", seed=2, rank=8,
                             choose=lambda n: ".attn2." in n),
        "big": lora_path(folder, "big", "wan2.1-t2v-1.3b", rank=2, limit=2),
    }


def _lora(files: dict[str, Path], name: str, strength: float = 1.0) -> LoraWeights:
    return LoraWeights(path=str(files[name]), strength=strength, name=name, key=name)


def _run(cache: PipelineCache, *loras: LoraWeights) -> np.ndarray:
    request = GenerationRequest(preset_id="tiny", prompt="a fox in the snow", negative_prompt="",
                                width=128, height=128, num_frames=5, steps=2, guidance=5.0,
                                seed=4321, loras=loras)
    return run_generation(request, lambda step: None, cache).frames


def test_a_lora_changes_the_video_and_turning_it_off_restores_it_bitwise(files):
    cache = PipelineCache()
    plain = _run(cache)
    styled = _run(cache, _lora(files, "style"))
    assert np.abs(styled.astype(int) - plain).mean() > 1.0
    assert np.array_equal(_run(cache, _lora(files, "style")), styled)  # same seed, same LoRA
    assert np.array_equal(_run(cache), plain)  # bit for bit
    weaker = _run(cache, _lora(files, "style", 0.3))
    assert not np.array_equal(weaker, styled) and not np.array_equal(weaker, plain)
    assert cache.loads == 1  # the base model was loaded once, never again


def test_two_loras_combine(files):
    cache = PipelineCache()
    style = _run(cache, _lora(files, "style"))
    subject = _run(cache, _lora(files, "subject"))
    both = _run(cache, _lora(files, "style"), _lora(files, "subject"))
    assert not np.array_equal(both, style) and not np.array_equal(both, subject)
    # The same two in the other order land in other slots and give the same sum.
    swapped = _run(cache, _lora(files, "subject"), _lora(files, "style"))
    assert np.abs(swapped.astype(int) - both).max() <= 1
    assert cache.loads == 1


def test_a_lora_for_another_model_fails_the_job_with_its_reason(files):
    with pytest.raises(GenerationError) as failed:
        _run(PipelineCache(), _lora(files, "big"))
    assert failed.value.code == ErrorCode.BAD_PARAMETERS
    assert "does not fit this model" in failed.value.message
    assert "maps 1536 to 1536 features" in failed.value.message


def test_a_damaged_lora_file_fails_the_job_clearly(tmp_path, files):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(files["style"].read_bytes()[:100])
    with pytest.raises(GenerationError) as failed:
        _run(PipelineCache(), LoraWeights(str(broken), 1.0, "broken", "broken"))
    assert "could not be read" in failed.value.message


def test_switching_loras_on_a_compiled_transformer_does_not_recompile(files):
    pipeline = build_pipeline("tiny", "tiny", seed=0)
    transformer = pipeline.transformer
    style, other = _lora(files, "style"), _lora(files, "style", 0.5)
    apply_loras(pipeline, [style], "tiny")
    transformer.compile_repeated_blocks(backend="eager", fullgraph=True)
    inputs = (torch.randn(1, 16, 2, 8, 8), torch.tensor([500]), torch.randn(1, 5, 32))

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return transformer(*inputs).sample

    first = forward()
    graphs = counters["stats"]["unique_graphs"]
    apply_loras(pipeline, [other], "tiny")
    halfway = forward()
    apply_loras(pipeline, [style], "tiny")
    assert torch.equal(forward(), first)
    assert not torch.equal(halfway, first)
    assert counters["stats"]["unique_graphs"] == graphs  # hot swaps: no new graph
    assert adapters_of(pipeline).swaps == 2


def test_once_each_combination_ran_compiled_nothing_compiles_again(files):
    pipeline = build_pipeline("tiny", "tiny", seed=0)
    transformer = pipeline.transformer
    style, subject = _lora(files, "style"), _lora(files, "subject")
    apply_loras(pipeline, [style], "tiny")  # the first LoRA job makes every slot
    transformer.compile_repeated_blocks(backend="eager", fullgraph=True)
    inputs = (torch.randn(1, 16, 2, 8, 8), torch.tensor([500]), torch.randn(1, 5, 32))
    rounds = [[style], [style, subject], [subject, style], [], [subject], [style, subject, style]]

    def cycle() -> None:
        for loras in rounds:
            apply_loras(pipeline, loras, "tiny")
            with torch.no_grad():
                transformer(*inputs)

    cycle()
    graphs = counters["stats"]["unique_graphs"]
    cycle()
    assert counters["stats"]["unique_graphs"] == graphs
    assert adapters_of(pipeline).rebuilds == 3  # each slot was made once


def test_the_slots_take_the_memory_slots_gb_counts(tmp_path):
    # A LoRA on every linear layer: the slots it makes are as big as slots can be.
    every_layer = lora_path(tmp_path, "every", "tiny", seed=3, choose=lambda name: True)
    cache = PipelineCache()
    _run(cache, LoraWeights(path=str(every_layer), strength=1.0, name="every", key="every"))
    transformer = cache.get_loaded("tiny").pipeline.transformer
    held = sum(parameter.numel() * parameter.element_size()
               for name, parameter in transformer.named_parameters()
               if ".lora_A." in name or ".lora_B." in name)
    assert held > 0
    predicted = slots_gb("tiny", dtype_bytes=transformer.dtype.itemsize) * 2**30
    assert held == pytest.approx(predicted)
