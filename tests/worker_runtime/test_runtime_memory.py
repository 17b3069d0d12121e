"""Memory profiles: the fastest placement that fits is chosen, overrides are strict, and the
pipeline cache stays within GPU and host memory."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from itertools import product

import pytest

from worker.catalogue import CATALOGUE, get_preset
from worker.catalogue.lora_targets import lora_presets
from worker.runtime.cache import LoadedPipeline, PipelineCache
from worker.runtime.loras import slots_gb
from worker.runtime.memory import (
    GPU_PROFILES,
    HEADROOM_GB,
    Footprint,
    GpuMemory,
    MemoryProfile,
    choose_plan,
    estimated_s,
    job_needs_tiling,
    needs_for_job,
    peak_gb,
    plan_for,
    usable_gb,
)

P = MemoryProfile
GB = 2**30


@pytest.mark.parametrize(
    ("preset_id", "total_gb", "free_gb", "profile", "tiling"),
    [
        # An H200 or an 80 GB card holds either Wan whole.
        ("wan2.1-t2v-1.3b", 141, 141, P.GPU, False),
        ("wan2.1-t2v-1.3b", 80, 80, P.GPU, False),
        # 24 GB: the whole 1.3B pipeline would need a tiled decode, which costs more than
        # streaming the transformer's weights (measured: no slower per step).
        ("wan2.1-t2v-1.3b", 24, 24, P.GROUP_LEAF, False),
        # A busy 141 GB card is as good as the memory left free on it.
        ("wan2.1-t2v-1.3b", 141, 20, P.GROUP_LEAF, False),
        ("wan2.1-t2v-1.3b", 8, 8, P.GROUP_LEAF, True),
        ("wan2.1-t2v-14b", 141, 141, P.GPU, False),
        # 48 GB holds the 14B transformer alone, but copying it in once per job costs more
        # than streaming it, which overlaps with compute.
        ("wan2.1-t2v-14b", 48, 48, P.GROUP_LEAF, False),
        ("wan2.1-t2v-14b", 24, 24, P.GROUP_LEAF, False),
        ("wan2.1-t2v-14b", 12, 12, P.GROUP_LEAF, True),
        ("wan2.1-vace-1.3b", 24, 24, P.GROUP_LEAF, False),
        # Their untiled decodes measured 21.2 GiB (Wan 2.2's VAE) and 22.2 GiB (HunyuanVideo's,
        # FramePack): on 24 GB only a tiled decode fits.
        ("wan2.2-ti2v-5b", 24, 24, P.GROUP_LEAF, True),
        ("ltx-video", 24, 24, P.GPU, False),
        ("hunyuanvideo-framepack", 24, 24, P.GROUP_LEAF, True),
        ("tiny", 4, 4, P.GPU, False),
    ],
)
def test_the_fastest_profile_that_fits_is_chosen(preset_id, total_gb, free_gb, profile, tiling):
    needs = get_preset(preset_id).memory
    gpu = GpuMemory(total_gb=total_gb, free_gb=free_gb)
    plan = choose_plan(needs, gpu, steps=get_preset(preset_id).default_steps)
    assert (plan.profile, plan.vae_tiling) == (profile, tiling), plan.describe()
    assert plan.peak_gb <= usable_gb(gpu)


@pytest.mark.parametrize("preset", CATALOGUE.values(), ids=CATALOGUE.keys())
@pytest.mark.parametrize("total_gb", [6, 8, 12, 16, 24, 32, 48, 80, 141])
def test_no_fitting_plan_is_faster_than_the_chosen_one(preset, total_gb):
    gpu = GpuMemory(total_gb, total_gb)
    steps = preset.default_steps
    chosen = choose_plan(preset.memory, gpu, steps=steps)
    for profile, tiled in product(GPU_PROFILES, (False, True)):
        if peak_gb(profile, preset.memory, vae_tiling=tiled, fp8=False) <= usable_gb(gpu):
            assert chosen.estimated_s <= estimated_s(
                profile, preset.memory, steps, vae_tiling=tiled, fp8=False
            )


@pytest.mark.parametrize("preset_id", lora_presets())
@pytest.mark.parametrize("compiled", [False, True])
def test_lora_slots_fit_in_the_headroom_wherever_a_plan_fits(preset_id, compiled):
    # Plans leave the adapter slots out (loras.slots_gb): a job with LoRAs in the largest
    # slots there can be must still keep HEADROOM_GB of the GPU free.
    preset = get_preset(preset_id)
    with_slots = replace(preset.memory,
                         transformer_gb=preset.memory.transformer_gb + slots_gb(preset_id))
    for total_gb in range(6, 150):
        gpu = GpuMemory(total_gb, total_gb)
        plan = choose_plan(preset.memory, gpu, steps=preset.default_steps, compiled=compiled)
        if plan.peak_gb > usable_gb(gpu):
            continue  # nothing fits here, LoRAs or not
        peak = peak_gb(plan.profile, with_slots, vae_tiling=plan.vae_tiling, fp8=False)
        assert peak <= total_gb - HEADROOM_GB, (total_gb, plan.describe(), peak)


def test_more_memory_never_makes_a_job_slower():
    for preset in CATALOGUE.values():
        times = [
            choose_plan(preset.memory, GpuMemory(gb, gb)).estimated_s
            for gb in (8, 12, 16, 24, 48, 80, 141)
        ]
        assert times == sorted(times, reverse=True), preset.id


def test_when_nothing_fits_the_smallest_peak_is_tried():
    plan = choose_plan(get_preset("wan2.1-t2v-14b").memory, GpuMemory(2, 2))
    assert plan.profile in (P.GROUP_LEAF, P.SEQUENTIAL)
    assert plan.vae_tiling


def test_fp8_halves_the_transformer_and_lets_14b_sit_whole_on_32gb():
    needs = get_preset("wan2.1-t2v-14b").memory
    full = peak_gb(P.MODEL_OFFLOAD, needs, vae_tiling=True, fp8=False)
    half = peak_gb(P.MODEL_OFFLOAD, needs, vae_tiling=True, fp8=True)
    assert full - half == pytest.approx(needs.transformer_gb / 2, abs=0.1)
    gpu = GpuMemory(32, 32)
    whole = choose_plan(needs, gpu, profile=P.MODEL_OFFLOAD)
    whole_fp8 = choose_plan(needs, gpu, fp8=True, profile=P.MODEL_OFFLOAD)
    assert whole_fp8.peak_gb <= usable_gb(gpu) < whole.peak_gb


@pytest.mark.parametrize(("preset_id", "gb", "tiling"), [
    ("wan2.1-t2v-1.3b", 8, True), ("wan2.1-t2v-1.3b", 12, False),
    ("wan2.1-t2v-14b", 24, False), ("wan2.1-vace-1.3b", 12, False),
])
def test_a_compiling_worker_streams_whole_blocks_which_it_can_compile(preset_id, gb, tiling):
    """Leaf-level hooks sit inside the blocks, so only block-level offload runs compiled: where
    both fit, a worker that compiles streams blocks, and one that does not streams layers."""
    needs, gpu = get_preset(preset_id).memory, GpuMemory(gb, gb)
    eager = choose_plan(needs, gpu)
    compiled = choose_plan(needs, gpu, compiled=True)
    assert (eager.profile, eager.vae_tiling) == (P.GROUP_LEAF, tiling)
    assert (compiled.profile, compiled.vae_tiling) == (P.GROUP_BLOCK, tiling)
    assert compiled.peak_gb <= usable_gb(gpu) and compiled.estimated_s < eager.estimated_s


def test_worker_overrides_come_from_the_environment(monkeypatch):
    preset = get_preset("wan2.1-t2v-1.3b")
    h200 = GpuMemory(141, 141)
    assert plan_for(preset, h200).profile == P.GPU
    monkeypatch.setenv("FRAMECRAFT_MEMORY_PROFILE", "group_offload_block")
    monkeypatch.setenv("FRAMECRAFT_FP8", "1")
    monkeypatch.setenv("FRAMECRAFT_VAE_TILING", "1")
    plan = plan_for(preset, h200)
    assert (plan.profile, plan.fp8, plan.vae_tiling) == (P.GROUP_BLOCK, True, True)
    monkeypatch.setenv("FRAMECRAFT_MEMORY_PROFILE", "auto")
    monkeypatch.setenv("FRAMECRAFT_FP8", "0")
    monkeypatch.setenv("FRAMECRAFT_VAE_TILING", "auto")
    assert plan_for(preset, h200).profile == P.GPU
    twelve = GpuMemory(12, 12)
    assert plan_for(preset, twelve).profile == P.GROUP_BLOCK  # compiles unless told not to
    monkeypatch.setenv("FRAMECRAFT_COMPILE", "0")
    assert plan_for(preset, twelve).profile == P.GROUP_LEAF


@pytest.mark.parametrize(
    ("name", "value"),
    [("FRAMECRAFT_MEMORY_PROFILE", "fast"), ("FRAMECRAFT_MEMORY_PROFILE", "cpu"),
     ("FRAMECRAFT_FP8", "maybe"), ("FRAMECRAFT_VAE_TILING", "2")],
)
def test_malformed_overrides_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        plan_for(get_preset("tiny"), GpuMemory(8, 8))


class _Pipeline:
    pass


class _Loader:
    def __init__(self, sizes: dict[str, Footprint]) -> None:
        self.sizes = sizes
        self.made: dict[str, weakref.ref[_Pipeline]] = {}

    def __call__(self, preset_id: str) -> LoadedPipeline:
        pipeline = _Pipeline()
        self.made[preset_id] = weakref.ref(pipeline)
        return LoadedPipeline(pipeline, device="cuda", memory_profile="gpu",
                              footprint=self.sizes[preset_id])


def _cache(sizes: dict[str, Footprint], gpu_gb: float, host_gb: float) -> PipelineCache:
    loader = _Loader(sizes)
    return PipelineCache(loader=loader, max_entries=8,
                         budgets=Footprint(int(gpu_gb * GB), int(host_gb * GB)),
                         estimate=lambda preset_id: sizes[preset_id])


def test_pipelines_that_fit_together_stay_warm_together():
    sizes = {"a": Footprint(4 * GB, 4 * GB), "b": Footprint(4 * GB, 4 * GB)}
    cache = _cache(sizes, gpu_gb=10, host_gb=100)
    cache.get("a")
    cache.get("b")
    assert cache.loaded_ids() == ["a", "b"]
    assert cache.held() == Footprint(8 * GB, 8 * GB)


def test_a_pipeline_that_would_overflow_the_gpu_evicts_the_least_recently_used():
    sizes = {name: Footprint(4 * GB, 1 * GB) for name in "abc"}
    cache = _cache(sizes, gpu_gb=10, host_gb=100)
    cache.get("a")
    cache.get("b")
    cache.get("a")
    cache.get("c")
    gc.collect()
    assert cache.loaded_ids() == ["a", "c"]
    assert cache.loader.made["b"]() is None, "the evicted pipeline's memory is freed"


def test_host_memory_bounds_the_cache_too():
    sizes = {"big": Footprint(0, 60 * GB), "other": Footprint(0, 30 * GB)}
    cache = _cache(sizes, gpu_gb=0, host_gb=80)
    cache.get("big")
    cache.get("other")
    assert cache.loaded_ids() == ["other"]


def test_a_pipeline_bigger_than_the_budget_still_loads_alone():
    sizes = {"small": Footprint(GB, GB), "huge": Footprint(200 * GB, GB)}
    cache = _cache(sizes, gpu_gb=141, host_gb=100)
    cache.get("small")
    cache.get("huge")
    assert cache.loaded_ids() == ["huge"]


def test_a_job_larger_than_the_plan_was_made_for_decodes_in_tiles():
    ltx = get_preset("ltx-video")
    gpu = GpuMemory(24, 24)
    plan = choose_plan(ltx.memory, gpu, steps=ltx.default_steps)
    assert (plan.profile, plan.vae_tiling) == (P.GPU, False)  # the default job fits whole
    default = needs_for_job(ltx, ltx.default_width, ltx.default_height, ltx.default_frames)
    longest = needs_for_job(ltx, 768, 512, ltx.max_frames)
    assert default == ltx.memory
    assert longest.decode_gb > 1.5 * ltx.memory.decode_gb
    assert not job_needs_tiling(plan, default, gpu)
    assert job_needs_tiling(plan, longest, gpu)
    # Tiled, the longest job fits where it did not whole.
    assert peak_gb(P.GPU, longest, vae_tiling=True, fp8=False) <= usable_gb(gpu)
    # A plan that tiles already tiles every job; a big GPU needs no tiling for it.
    tiled_plan = choose_plan(ltx.memory, gpu, vae_tiling=True)
    assert job_needs_tiling(tiled_plan, default, gpu)
    assert not job_needs_tiling(plan, longest, GpuMemory(141, 141))
