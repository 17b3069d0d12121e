"""Wan 2.2 A14B's two experts through the worker's runtime, on tiny checkpoints loaded by the
production loader: the high-noise expert runs every step at or above the boundary and the
low-noise one every step below it; a LoRA goes into the experts it names; the expert-offload
plan is chosen where both experts do not fit beside the rest, and keeps one expert resident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.loras.files import lora_path
from tests.worker_runtime.tiny_a14b import SIDE, install_tiny_a14b
from worker.catalogue import CATALOGUE, GenerationRequest, build_pipeline, get_preset
from worker.catalogue.request import LoraWeights
from worker.catalogue.wan22_a14b import BOUNDARY, I2V_ID, T2V_ID
from worker.runtime.cache import PipelineCache
from worker.runtime.experts import ExpertSwap, expert_offload, swap_of
from worker.runtime.memory import (
    GPU_PROFILES,
    GpuMemory,
    MemoryProfile,
    choose_plan,
    peak_gb,
    usable_gb,
)
from worker.runtime.runner import run_generation


@pytest.fixture
def installed(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):
    """A tiny checkpoint of the preset in the models folder (tests/worker_runtime/tiny_a14b)."""

    def install(preset_id: str) -> Path:
        return install_tiny_a14b(preset_id, offline_model_store, monkeypatch)

    return install


def _request(preset_id: str, steps: int, **fields: Any) -> GenerationRequest:
    media = {"image": np.full((SIDE, SIDE, 3), 90, np.uint8)} if preset_id == I2V_ID else {}
    return GenerationRequest(
        preset_id=preset_id, task="i2v" if preset_id == I2V_ID else "t2v",
        prompt="a lighthouse at dusk", negative_prompt="", width=SIDE, height=SIDE,
        num_frames=5, steps=steps, guidance=4.0, seed=11, **media, **fields)


def _experts_per_step(cache: PipelineCache, preset_id: str) -> list[tuple[str, float]]:
    """Record (expert, timestep) of every forward of the warm pipeline's denoisers."""
    pipeline = cache.get_loaded(preset_id).pipeline
    seen: list[tuple[str, float]] = []
    for name in ("transformer", "transformer_2"):
        def record(module: Any, args: Any, kwargs: dict[str, Any], name: str = name) -> None:
            seen.append((name, float(kwargs["timestep"].flatten()[0])))
        getattr(pipeline, name).register_forward_pre_hook(record, with_kwargs=True)
    return seen


@pytest.mark.parametrize("preset_id", [T2V_ID, I2V_ID])
def test_the_high_noise_expert_runs_to_the_boundary_and_the_low_noise_one_after(
        preset_id, installed):
    installed(preset_id)
    cache = PipelineCache()
    seen = _experts_per_step(cache, preset_id)
    steps: list[int] = []
    run_generation(_request(preset_id, 8), lambda info: steps.append(info.step), cache)
    assert steps == list(range(1, 9))
    boundary = BOUNDARY[preset_id] * 1000
    assert len(seen) == 16  # two forwards a step: with and without the prompt
    for name, timestep in seen:
        assert name == ("transformer" if timestep >= boundary else "transformer_2"), seen
    names = [name for name, _ in seen]
    assert names.count("transformer") >= 2 and names.count("transformer_2") >= 2, seen
    # One switch, high noise first.
    assert names == sorted(names), seen


def test_a_lora_goes_into_the_experts_it_names(installed, tmp_path):
    installed(T2V_ID)
    path = lora_path(tmp_path, "style", T2V_ID, seed=3)

    def lora(expert: str) -> LoraWeights:
        return LoraWeights(path=str(path), strength=1.0, name="style", key="style",
                           expert=expert)

    cache = PipelineCache()
    seen = _experts_per_step(cache, T2V_ID)

    def frames(steps: int, *loras: LoraWeights) -> np.ndarray:
        return run_generation(_request(T2V_ID, steps, loras=loras), lambda info: None,
                              cache).frames

    # Two steps at shift 12 (timesteps 999 and 923) are both the high-noise expert's.
    plain = frames(2)
    assert {name for name, _ in seen} == {"transformer"}
    assert np.array_equal(frames(2, lora("low_noise")), plain)  # that expert never ran
    high = frames(2, lora("high_noise"))
    assert np.abs(high.astype(int) - plain).mean() > 1.0
    assert np.array_equal(frames(2, lora("both")), high)
    # Eight steps reach the low-noise expert: there a low-noise LoRA shows, and both differ.
    plain_8 = frames(8)
    low_8 = frames(8, lora("low_noise"))
    high_8 = frames(8, lora("high_noise"))
    both_8 = frames(8, lora("both"))
    for changed in (low_8, high_8, both_8):
        assert not np.array_equal(changed, plain_8)
    assert not np.array_equal(low_8, high_8) and not np.array_equal(both_8, high_8)
    assert np.array_equal(frames(8), plain_8)  # adapters off: bit for bit the base model
    assert cache.loads == 1
    recipe = _request(T2V_ID, 2, loras=(lora("low_noise"),)).recipe()["loras"]
    assert recipe == [{"name": "style", "strength": 1.0, "id": "style", "expert": "low_noise"}]


def test_an_unknown_expert_is_refused(installed, tmp_path):
    installed(T2V_ID)
    path = lora_path(tmp_path, "style", T2V_ID, seed=3)
    bad = LoraWeights(path=str(path), strength=1.0, name="style", key="s", expert="middle")
    with pytest.raises(Exception) as refused:
        run_generation(_request(T2V_ID, 2, loras=(bad,)), lambda info: None, PipelineCache())
    assert getattr(refused.value, "code", None) == "bad_parameters"
    assert "high_noise" in str(refused.value)


@pytest.mark.parametrize(("preset_id", "gb", "profile", "tiling"), [
    # An H200 holds both experts beside the rest.
    (T2V_ID, 141, MemoryProfile.GPU, False),
    # 80 GB: both experts (53.4 GB) and UMT5 leave no room for the untiled decode; one expert
    # resident does, at two copies of an expert a job.
    (T2V_ID, 80, MemoryProfile.EXPERT_OFFLOAD, False),
    (I2V_ID, 80, MemoryProfile.EXPERT_OFFLOAD, False),
    # 48 GB: not even one expert beside UMT5 and the decode: they stream.
    (T2V_ID, 48, MemoryProfile.GROUP_LEAF, False),
])
def test_the_plan_keeps_one_expert_resident_where_both_do_not_fit(preset_id, gb, profile,
                                                                  tiling):
    needs, gpu = get_preset(preset_id).memory, GpuMemory(gb, gb)
    plan = choose_plan(needs, gpu, steps=40)
    assert (plan.profile, plan.vae_tiling) == (profile, tiling), plan.describe()
    assert plan.peak_gb <= usable_gb(gpu)
    one = peak_gb(MemoryProfile.EXPERT_OFFLOAD, needs, vae_tiling=False, fp8=False)
    both = peak_gb(MemoryProfile.GPU, needs, vae_tiling=False, fp8=False)
    assert both - one == pytest.approx(needs.expert_gb)


def test_a_model_of_one_denoiser_never_gets_the_expert_plan():
    for preset in CATALOGUE.values():
        if preset.memory.experts > 1:
            continue
        for gb in (8, 24, 48, 80, 141):
            plan = choose_plan(preset.memory, GpuMemory(gb, gb), steps=preset.default_steps)
            assert plan.profile != MemoryProfile.EXPERT_OFFLOAD, preset.id
    forced = choose_plan(get_preset("tiny").memory, GpuMemory(8, 8),
                         profile=MemoryProfile.EXPERT_OFFLOAD)
    assert forced.profile == MemoryProfile.GPU
    assert MemoryProfile.EXPERT_OFFLOAD in GPU_PROFILES


def test_the_swap_holds_one_expert_on_the_device_and_keeps_the_others_weights():
    pipeline = build_pipeline(T2V_ID, "tiny", seed=0)
    high, low = pipeline.transformer, pipeline.transformer_2
    before = {name: tensor.clone() for name, tensor in low.state_dict().items()}
    # On the CPU the device copies are copies too: which expert runs on one is observable.
    swap = ExpertSwap([high, low], "cpu")
    assert not any(swap.on_device(high)) and not any(swap.on_device(low))
    swap.bring(high)
    assert all(swap.on_device(high)) and not any(swap.on_device(low))
    swap.bring(low)
    assert not any(swap.on_device(high)) and all(swap.on_device(low))
    swap.bring(high)
    after = low.state_dict()
    assert all(torch.equal(after[name], value) for name, value in before.items())
    assert swap.swaps == 3 and swap.resident is high


def test_a_job_under_expert_offload_swaps_at_the_boundary_and_matches_the_plain_run(
        installed):
    installed(T2V_ID)
    plain = run_generation(_request(T2V_ID, 8), lambda info: None, PipelineCache()).frames
    cache = PipelineCache()
    pipeline = cache.get_loaded(T2V_ID).pipeline
    swap = expert_offload(pipeline, "cpu")
    assert swap is not None and swap_of(pipeline) is swap
    resident: list[bool] = []
    for expert in (pipeline.transformer, pipeline.transformer_2):
        def check(module: Any, args: Any, expert: Any = expert) -> None:
            resident.append(swap.resident is expert and all(swap.on_device(expert)))
        # After the swap's own hook: the expert called is the one brought in.
        expert.register_forward_pre_hook(check)
    first = run_generation(_request(T2V_ID, 8), lambda info: None, cache).frames
    assert swap.swaps == 2 and all(resident) and len(resident) == 16
    second = run_generation(_request(T2V_ID, 8), lambda info: None, cache).frames
    assert swap.swaps == 4  # the low-noise expert was resident when the next job began
    assert np.array_equal(first, plain) and np.array_equal(second, plain)
