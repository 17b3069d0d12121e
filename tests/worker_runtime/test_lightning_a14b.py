"""Wan 2.2 A14B's Preview: lightx2v's Wan2.2-Lightning pair, on tiny checkpoints and a tiny
pair of LoRA files in the original Wan naming (as lightx2v publishes them), through the
production loader: each LoRA fused into its own expert, 4 steps on the training timesteps, one
forward a step (no CFG), the same frames as plain diffusers given the same files; offered only
once both files are installed, and installed from the Hub as two files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save, save_file

from generation.submission import offered_speeds
from tests.loras.files import lora_tensors
from tests.worker_runtime.test_runtime_download import hub, import_time_cache  # noqa: F401
from tests.worker_runtime.test_runtime_wan22_a14b import (  # noqa: F401
    SIDE,
    _experts_per_step,
    _request,
    installed,
)
from worker.catalogue import CATALOGUE, Preset, get_preset, weights
from worker.catalogue.speed import SpeedMode, mode_error, preview_variant
from worker.catalogue.wan22_a14b import I2V_ID, T2V_ID
from worker.runtime.cache import PipelineCache, load_pipeline
from worker.runtime.runner import frames_to_uint8, run_generation

# Where Wan2.2-Lightning's distillation was trained (ModelTC/LightX2V-Wan2.2-Lightning#3).
TRAINING_TIMESTEPS = (1000.0, 937.5, 833.3, 625.0)


def _variant(base_id: str, monkeypatch: pytest.MonkeyPatch) -> Preset:
    """The base's Preview, limited to the toy size its tiny checkpoint runs at."""
    variant = preview_variant(get_preset(base_id))
    assert variant is not None
    small = dataclasses.replace(variant, sizes=((SIDE, SIDE),), default_width=SIDE,
                                default_height=SIDE, default_frames=5)
    monkeypatch.setitem(CATALOGUE, variant.id, small)
    return small


def _write_lora(models: Path, variant: Preset, index: int, seed: int) -> Path:
    """One of the variant's LoRA files where an install puts it: its folder of the models
    folder, at its path in the Hub repository."""
    path = models / variant.id / variant.loras[index].filename
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(lora_tensors(variant.preview_of or "", seed=seed, fmt="wan"), str(path))
    return path


def _plain_diffusers(folder: Path, base: Preset, high: Path, low: Path, request: Any
                     ) -> np.ndarray:
    """What a diffusers user writes for Lightning: each file into its expert, fused, UniPC's
    flow sigmas at shift 5 stepped as Euler, 4 steps at guidance 1."""
    pipeline = getattr(diffusers, base.pipeline_class).from_pretrained(folder)
    pipeline.load_lora_weights(str(high), adapter_name="high")
    pipeline.load_lora_weights(str(low), adapter_name="low", load_into_transformer_2=True)
    pipeline.fuse_lora(components=["transformer"], adapter_names=["high"])
    pipeline.fuse_lora(components=["transformer_2"], adapter_names=["low"])
    pipeline.unload_lora_weights()
    pipeline.scheduler = diffusers.UniPCMultistepScheduler.from_config(
        pipeline.scheduler.config, flow_shift=5.0, solver_order=1,
        disable_corrector=[0, 1, 2, 3])
    image = {"image": Image.fromarray(request.image)} if request.image is not None else {}
    return pipeline(
        prompt=request.prompt, negative_prompt=None, height=SIDE, width=SIDE, num_frames=5,
        num_inference_steps=4, guidance_scale=1.0, output_type="np",
        generator=torch.Generator("cpu").manual_seed(request.seed), **image).frames[0]


@pytest.mark.parametrize("base_id", [T2V_ID, I2V_ID])
def test_preview_runs_lightning_on_each_expert_in_four_steps_without_cfg(
        base_id, installed, offline_model_store: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch):
    folder = installed(base_id)
    variant = _variant(base_id, monkeypatch)
    high = _write_lora(offline_model_store, variant, 0, seed=5)
    low = _write_lora(offline_model_store, variant, 1, seed=6)
    cache = PipelineCache()
    seen = _experts_per_step(cache, variant.id)
    steps: list[int] = []
    request = _request(base_id, 30, speed="preview")  # asked for 30 steps at guidance 4
    result = run_generation(request, lambda info: steps.append(info.step), cache)
    assert result.speed["preset"] == variant.id
    assert (result.speed["steps"], result.speed["guidance"]) == (4, 1.0)
    assert steps == [1, 2, 3, 4]
    # One forward a step, two on each expert, at the timesteps the distillation was trained on.
    assert [name for name, _ in seen] == ["transformer"] * 2 + ["transformer_2"] * 2
    for (_, timestep), trained in zip(seen, TRAINING_TIMESTEPS, strict=True):
        assert abs(timestep - trained) <= 1.0, seen
    plain = _plain_diffusers(folder, get_preset(base_id), high, low, request)
    assert np.array_equal(result.frames, frames_to_uint8(plain))


def test_each_lightning_file_is_fused_into_its_own_expert_alone(
        installed, offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    installed(T2V_ID)
    variant = _variant(T2V_ID, monkeypatch)
    files = [_write_lora(offline_model_store, variant, index, seed=5 + index)
             for index in range(2)]
    base = load_pipeline(T2V_ID).pipeline
    fused = load_pipeline(variant.id).pipeline
    layer = "blocks.0.attn1.to_q"
    for expert, path in zip(("transformer", "transformer_2"), files, strict=True):
        tensors = load_file(str(path))
        key = "diffusion_model.blocks.0.self_attn.q"
        delta = tensors[f"{key}.lora_up.weight"] @ tensors[f"{key}.lora_down.weight"]
        before = getattr(base, expert).get_submodule(layer).weight
        after = getattr(fused, expert).get_submodule(layer)
        assert type(after) is torch.nn.Linear  # fused; no adapter left behind
        torch.testing.assert_close(after.weight, before + delta, rtol=1e-4, atol=1e-4)
    assert type(fused.scheduler).__name__ == "UniPCMultistepScheduler"


def test_preview_is_offered_once_both_files_are_installed_and_removed_without_the_base(
        installed, offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    installed(T2V_ID)
    base = get_preset(T2V_ID)
    variant = _variant(T2V_ID, monkeypatch)
    assert [(lora.repo, lora.filename, lora.expert) for lora in variant.loras] == [
        ("lightx2v/Wan2.2-Lightning",
         "Wan2.2-T2V-A14B-4steps-lora-250928/high_noise_model.safetensors", "high_noise"),
        ("lightx2v/Wan2.2-Lightning",
         "Wan2.2-T2V-A14B-4steps-lora-250928/low_noise_model.safetensors", "low_noise"),
    ]
    assert SpeedMode.PREVIEW not in offered_speeds(base)
    assert "fetch_model wan2.2-t2v-a14b-preview" in (mode_error(base, "preview") or "")
    high = _write_lora(offline_model_store, variant, 0, seed=5)
    # Half a pair is no Preview.
    assert not variant.is_installed() and weights.verify(variant) == ["not installed"]
    assert SpeedMode.PREVIEW not in offered_speeds(base)
    low = _write_lora(offline_model_store, variant, 1, seed=6)
    assert variant.is_installed() and weights.verify(variant) == []
    assert SpeedMode.PREVIEW in offered_speeds(base) and mode_error(base, "preview") is None
    size = high.stat().st_size + low.stat().st_size
    assert weights.installed_bytes(variant) == size
    assert weights.remove(variant) == size
    assert not high.exists() and not low.exists()
    assert base.is_installed() and not variant.is_installed()


def test_the_lightning_pair_is_fetched_alone_after_its_base(
        hub, installed, offline_model_store: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch):
    variant = _variant(I2V_ID, monkeypatch)
    repo = variant.loras[0].repo
    # The pair, and the other model's pair beside it in the repository (not to be fetched).
    files = {lora.filename: save(lora_tensors(T2V_ID, seed=index, fmt="wan", limit=2))
             for index, lora in enumerate(variant.loras)}
    others = {name.replace("I2V-A14B-4steps-lora-rank64-Seko-V1", "T2V-A14B-4steps-lora-250928"):
              data for name, data in files.items()}
    hub.add_repo(repo, {**files, **others, "README.md": b"# Wan2.2-Lightning\n"})
    with pytest.raises(weights.WeightsError, match=f"fetch_model {I2V_ID}"):
        weights.fetch(variant, say=lambda line: None)
    assert hub.downloaded(repo) == {}
    installed(I2V_ID)
    lines: list[str] = []
    weights.fetch(variant, say=lines.append)
    assert sorted(hub.downloaded(repo)) == sorted(lora.filename for lora in variant.loras)
    assert variant.is_installed() and weights.verify(variant) == []
    assert variant.lora_paths() == [offline_model_store / variant.id / lora.filename
                                    for lora in variant.loras]
    assert lines[-1].startswith(f"{variant.id} installed at ")
