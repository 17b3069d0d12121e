"""Speed modes on the real runner with tiny models: Quality equals plain diffusers on the CPU
(where compile is skipped, for a stated reason), Balanced skips steps and says how many, leaves
no hook behind and hands compiled blocks back; Preview runs the distilled variant, and LoRA
variants load through the production loader from a tiny checkpoint and a LoRA file; fp8 is
refused on a CPU."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from worker.catalogue import (
    CATALOGUE,
    FAMILIES,
    ErrorCode,
    GenerationError,
    build_pipeline,
    get_preset,
)
from worker.catalogue import weights as weight_store
from worker.catalogue.speed import SpeedMode, step_cache_for
from worker.runtime import speed
from worker.runtime.cache import LoadedPipeline, PipelineCache, load_pipeline
from worker.runtime.memory import GpuMemory, MemoryProfile, choose_plan
from worker.runtime.runner import frames_to_uint8, run_generation

BASE = "wan2.1-t2v-1.3b"
VARIANT = "wan2.1-t2v-1.3b-preview"


def _ignore(_: object) -> None:
    pass


def _plain(pipeline, request):
    return pipeline(
        prompt=request.prompt, negative_prompt=request.negative_prompt or None,
        height=request.height, width=request.width, num_frames=request.num_frames,
        num_inference_steps=request.steps, guidance_scale=request.guidance,
        generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np",
    ).frames[0]


def test_quality_on_the_cpu_is_plain_diffusers_and_says_why_it_did_not_compile(
        make_request, cache, tiny_pipeline):
    request = make_request(steps=3)
    result = run_generation(request, _ignore, cache)
    assert np.array_equal(result.frames, frames_to_uint8(_plain(tiny_pipeline, request)))
    assert result.speed["mode"] == "quality"
    assert result.speed["compiled"] is False
    assert "CPU" in result.speed["compile_reason"]
    assert result.speed["attention"] == "native"


def test_balanced_skips_steps_says_how_many_and_leaves_no_hook_behind(
        make_request, cache, tiny_pipeline):
    request = make_request(steps=8, speed="balanced")
    balanced = run_generation(request, _ignore, cache)
    acceleration = balanced.speed
    assert acceleration["step_cache"] == "first_block"
    assert acceleration["forwards"] == 16  # 8 steps, two CFG passes each
    assert 0 < acceleration["skipped_forwards"] < 16
    assert acceleration["skipped_steps"] == acceleration["skipped_forwards"] // 2
    plain = frames_to_uint8(_plain(tiny_pipeline, dataclasses.replace(request, speed="quality")))
    assert not np.array_equal(balanced.frames, plain)
    # The next Quality job on the same warm pipeline is plain diffusers again.
    quality = run_generation(dataclasses.replace(request, speed="quality"), _ignore, cache)
    assert np.array_equal(quality.frames, plain)
    assert cache.loads == 1


def test_balanced_runs_compiled_blocks_eagerly_and_gives_their_code_back(tiny_pipeline):
    blocks = list(tiny_pipeline.transformer.blocks)
    sentinel = object()
    for block in blocks:
        block._compiled_call_impl = sentinel
    seen: list[object] = []
    with speed.eager_blocks(tiny_pipeline):
        seen = [block._compiled_call_impl for block in blocks]
    assert seen == [None] * len(blocks)
    assert all(block._compiled_call_impl is sentinel for block in blocks)


def test_blocks_compile_beneath_group_offload_hooks_as_one_graph_and_stay_exact(
        tiny_pipeline):
    """Block-level group offload hooks every block; the blocks' arithmetic is compiled beneath
    them: one Dynamo graph for all blocks (not one per block's hook), the same output as eager,
    and Balanced's eager switch leaves no graph behind it."""
    from diffusers.hooks import apply_group_offloading
    from torch._dynamo.utils import counters

    from worker.runtime.offload_compile import install_switches, switches

    torch._dynamo.reset()
    transformer = tiny_pipeline.transformer
    blocks = len(transformer.blocks)
    assert blocks >= 2 and install_switches(transformer) == blocks
    apply_group_offloading(transformer, onload_device="cpu", offload_device="cpu",
                           offload_type="block_level", num_blocks_per_group=1)
    assert len(switches(transformer)) == blocks  # found beneath the offload hooks
    generator = torch.Generator().manual_seed(0)
    inputs = {"hidden_states": torch.randn(1, 16, 2, 8, 8, generator=generator),
              "timestep": torch.tensor([500]),
              "encoder_hidden_states": torch.randn(1, 8, transformer.config.text_dim,
                                                   generator=generator),
              "return_dict": False}
    eager = transformer(**inputs)[0]
    plan = choose_plan(get_preset(BASE).memory, GpuMemory(80, 80),
                       profile=MemoryProfile.GROUP_BLOCK)
    assert speed.compile_blocks(tiny_pipeline, get_preset(BASE), plan, backend="eager") is None
    graphs = counters["stats"]["unique_graphs"]
    compiled = transformer(**inputs)[0]
    assert counters["stats"]["unique_graphs"] - graphs == 1
    assert all(switch.compiled_calls == 1 for switch in switches(transformer))
    torch.testing.assert_close(compiled, eager)
    with speed.eager_blocks(tiny_pipeline):
        assert not any(switch.on for switch in switches(transformer))
        transformer(**inputs)
    assert all(switch.on for switch in switches(transformer))
    assert counters["stats"]["unique_graphs"] - graphs == 1


def test_preview_runs_the_distilled_variant_with_its_steps_and_scheduler(make_request, cache):
    steps: list[int] = []
    result = run_generation(make_request(steps=20, guidance=6.0, speed="preview"),
                            lambda info: steps.append(info.step), cache)
    assert result.speed["preset"] == "tiny-preview"
    assert (result.speed["steps"], result.speed["guidance"]) == (4, 1.0)
    assert steps == [1, 2, 3, 4]
    scheduler = cache.get("tiny-preview").scheduler
    # The distillation's own timesteps (shift 5 of 1, 0.75, 0.5, 0.25), not flow Euler's
    # linear spacing (1000, 910, 717, 24).
    assert type(scheduler).__name__ == "UniPCMultistepScheduler"
    assert scheduler.config.flow_shift == 5.0
    assert [round(float(t)) for t in scheduler.timesteps] == [999, 937, 833, 625]


def test_fp8_is_refused_on_a_cpu_with_a_clear_message(make_request, cache):
    with pytest.raises(GenerationError) as refused:
        run_generation(make_request(fp8=True), _ignore, cache)
    assert refused.value.code == ErrorCode.BAD_PARAMETERS
    assert "CPU" in refused.value.message
    assert len(cache) == 0


def test_a_mode_the_preset_lacks_is_refused_before_loading(make_request, cache):
    with pytest.raises(GenerationError) as refused:
        run_generation(make_request(speed="warp"), _ignore, cache)
    assert "Pick a speed" in refused.value.message
    assert len(cache) == 0


@pytest.mark.parametrize(("device", "mode", "profile", "override", "on"), [
    ("cpu", SpeedMode.QUALITY, None, None, False),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.GPU, None, True),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.GROUP_LEAF, "auto", False),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.GROUP_BLOCK, None, True),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.MODEL_OFFLOAD, None, True),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.SEQUENTIAL, None, False),
    ("cuda", SpeedMode.BALANCED, MemoryProfile.GPU, None, False),
    ("cuda", SpeedMode.PREVIEW, MemoryProfile.GPU, None, False),
    ("cuda", SpeedMode.QUALITY, MemoryProfile.GPU, "0", False),
])
def test_compile_is_a_decision_with_a_reason(device, mode, profile, override, on):
    plan = None if profile is None else choose_plan(
        get_preset(BASE).memory, GpuMemory(80, 80), profile=profile)
    decision = speed.compile_decision(device, mode, plan, override)
    assert decision.on is on
    assert decision.reason


def test_a_malformed_compile_setting_stops_with_its_name():
    with pytest.raises(ValueError, match="FRAMECRAFT_COMPILE"):
        speed.compile_decision("cuda", SpeedMode.QUALITY, None, "sometimes")


def test_every_size_and_length_is_one_static_bucket():
    wan = get_preset(BASE)
    assert speed.shape_buckets(wan) == 2 * len(wan.frame_choices()) == 40


def test_compiled_artefacts_live_on_the_models_volume_per_gpu_and_torch(
        offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):
    folder = speed.compile_cache_dir("NVIDIA H100 80GB HBM3", "2.11.0+cu128")
    assert folder == offline_model_store / ".speed" / "compile" / \
        "NVIDIA-H100-80GB-HBM3-torch2.11.0-cu128"
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    speed.use_compile_cache(folder)
    import os

    import torch._functorch.config as functorch
    import torch._inductor.config as inductor

    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(folder)
    assert os.environ["TRITON_CACHE_DIR"] == str(folder / "triton")
    assert inductor.fx_graph_cache and functorch.enable_autograd_cache
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.delenv("TRITON_CACHE_DIR")


def _small(preset_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    preset = CATALOGUE[preset_id]
    monkeypatch.setitem(CATALOGUE, preset_id, dataclasses.replace(
        preset, sizes=((64, 64),), default_width=64, default_height=64, min_frames=5,
        default_frames=5, max_frames=5))


def _install_base_and_lora(models: Path, scale_b: float = 0.5) -> dict[str, torch.Tensor]:
    base = build_pipeline(BASE, "tiny", seed=0)
    base.save_pretrained(models / BASE)
    inner = base.transformer.blocks[0].attn1.to_q.weight.shape[0]
    generator = torch.Generator().manual_seed(3)
    lora = {}
    for index in range(len(base.transformer.blocks)):
        prefix = f"transformer.blocks.{index}.attn1.to_q"
        lora[f"{prefix}.lora_A.weight"] = torch.randn(4, inner, generator=generator)
        lora[f"{prefix}.lora_B.weight"] = torch.randn(inner, 4, generator=generator) * scale_b
    variant = CATALOGUE[VARIANT]
    (lora_file,) = variant.loras
    (models / VARIANT).mkdir()
    save_file(lora, str(models / VARIANT / lora_file.filename))
    return lora


def test_a_lora_variant_is_installed_only_with_its_base_and_its_file(
        offline_model_store: Path):
    variant = get_preset(VARIANT)
    assert not variant.is_installed()
    build_pipeline(BASE, "tiny", seed=0).save_pretrained(offline_model_store / BASE)
    assert not variant.is_installed()
    assert weight_store.verify(variant) == ["not installed"]
    _install_base_and_lora_file_only(offline_model_store)
    assert variant.is_installed()
    assert variant.installed_path() == offline_model_store / BASE
    assert weight_store.verify(variant) == []


def _install_base_and_lora_file_only(models: Path) -> None:
    variant = CATALOGUE[VARIANT]
    (lora_file,) = variant.loras
    (models / VARIANT).mkdir(exist_ok=True)
    save_file({"transformer.blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 24),
               "transformer.blocks.0.attn1.to_q.lora_B.weight": torch.zeros(24, 4)},
              str(models / VARIANT / lora_file.filename))


def test_the_production_loader_fuses_a_preview_lora_at_its_scale(offline_model_store: Path):
    lora = _install_base_and_lora(offline_model_store)
    base = load_pipeline(BASE).pipeline
    loaded = load_pipeline(VARIANT)
    variant = get_preset(VARIANT)
    (lora_file,) = variant.loras
    for index, block in enumerate(loaded.pipeline.transformer.blocks):
        prefix = f"transformer.blocks.{index}.attn1.to_q"
        delta = lora[f"{prefix}.lora_B.weight"] @ lora[f"{prefix}.lora_A.weight"]
        expected = base.transformer.blocks[index].attn1.to_q.weight + lora_file.scale * delta
        torch.testing.assert_close(block.attn1.to_q.weight, expected, rtol=1e-4, atol=1e-4)
    # Fused, then the adapter dropped: plain Linear layers, no PEFT wrappers left.
    assert type(loaded.pipeline.transformer.blocks[0].attn1.to_q) is torch.nn.Linear
    assert type(loaded.pipeline.scheduler).__name__ == "UniPCMultistepScheduler"


def test_a_preview_job_on_a_hub_preset_runs_its_lora_variant(
        offline_model_store: Path, monkeypatch: pytest.MonkeyPatch, make_request):
    _small(BASE, monkeypatch)
    _small(VARIANT, monkeypatch)
    _install_base_and_lora(offline_model_store)
    cache = PipelineCache()
    steps: list[int] = []
    result = run_generation(make_request(preset_id=BASE, width=64, height=64, speed="preview"),
                            lambda info: steps.append(info.step), cache)
    assert result.speed["preset"] == VARIANT
    assert steps == [1, 2, 3, 4]
    assert cache.loaded_ids() == [VARIANT]


def test_a_damaged_lora_file_fails_as_damaged_weights(offline_model_store: Path):
    _install_base_and_lora(offline_model_store)
    variant = get_preset(VARIANT)
    (lora_file,) = variant.loras
    (offline_model_store / VARIANT / lora_file.filename).write_bytes(b"not safetensors")
    assert weight_store.verify(variant) and "unreadable" in weight_store.verify(variant)[0]
    with pytest.raises(GenerationError) as failed:
        load_pipeline(VARIANT)
    assert failed.value.code == ErrorCode.WEIGHTS_MISSING
    assert "damaged" in failed.value.message


def test_removing_a_lora_variant_keeps_its_base(offline_model_store: Path):
    _install_base_and_lora(offline_model_store)
    freed = weight_store.remove(get_preset(VARIANT))
    assert freed > 0
    assert not (offline_model_store / VARIANT).exists()
    assert get_preset(BASE).is_installed()
    assert not get_preset(VARIANT).is_installed()


FIRST_OF_EACH_FAMILY = [next(p for p in family.presets if not p.builtin and not p.preview_of)
                        for family in FAMILIES.values()]


@pytest.mark.parametrize("preset", FIRST_OF_EACH_FAMILY, ids=lambda p: p.family)
def test_every_family_runs_balanced_with_its_step_cache(preset, monkeypatch):
    """Each family's tiny architecture takes its step cache, counts forwards, and comes back
    without hooks: a Quality job right after equals one on a pipeline that never had them."""
    from tests.worker_runtime.test_runtime_checkpoints import _request as family_request
    from tests.worker_runtime.test_runtime_checkpoints import _small as small_preset

    monkeypatch.setitem(CATALOGUE, preset.id, small_preset(preset))
    task = next(iter(preset.tasks))
    pipelines = {key: build_pipeline(preset.id, "tiny", seed=0) for key in ("hooked", "clean")}
    caches = {key: PipelineCache(loader=lambda _, p=pipe: LoadedPipeline(p, "cpu", "cpu"))
              for key, pipe in pipelines.items()}
    request = family_request(preset, task, steps=4)
    balanced = run_generation(dataclasses.replace(request, speed="balanced"), _ignore,
                              caches["hooked"])
    blocks = speed._blocks(pipelines["hooked"].transformer)
    if len(blocks) > 1:
        assert balanced.speed["step_cache"] == step_cache_for(get_preset(preset.id)).kind
    else:  # the tiny LTX, CogVideoX and Kandinsky 5: one block, nothing to reuse
        assert balanced.speed["step_cache"].startswith("none")
        assert balanced.speed["skipped_forwards"] == 0
    assert balanced.speed["forwards"] >= 4
    after = run_generation(request, _ignore, caches["hooked"])
    clean = run_generation(request, _ignore, caches["clean"])
    assert np.array_equal(after.frames, clean.frames)


def test_a_denoiser_split_over_gpus_keeps_default_attention_and_runs_eager():
    from types import SimpleNamespace

    pipeline = SimpleNamespace(components={})  # nothing is asked of it when split
    state = speed.prepare(pipeline, get_preset(BASE), "cpu", fp8=False, split=True)
    assert (state.attention, state.split) == ("native", True)
    decision = speed.ensure_compiled(pipeline, get_preset(BASE), state, None, "cuda")
    assert not decision.on and "several GPUs" in decision.reason
    assert not state.compiled
