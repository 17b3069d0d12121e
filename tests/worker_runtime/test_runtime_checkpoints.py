"""Every catalogue preset, as a tiny checkpoint in the Hub's folder layout, loads through the
production loader and runs a 2-step job for each task it can do; the runner's frames equal a
direct diffusers call's, bitwise; missing or damaged weights fail with the admin's fix."""

from __future__ import annotations

import dataclasses
import inspect
import io
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import pytest
import torch
from PIL import Image

from worker import catalogue
from worker.catalogue import (
    CATALOGUE,
    FAMILIES,
    GenerationError,
    GenerationRequest,
    Preset,
    StepInfo,
    Task,
    build_pipeline,
)
from worker.runtime.cache import PipelineCache
from worker.runtime.preview import latents_to_preview_jpeg
from worker.runtime.runner import frames_to_uint8, run_generation

# LoRA variants load their base preset's folder: tests/worker_runtime/test_speed_presets.py.
HUB_PRESETS = [preset for preset in CATALOGUE.values()
               if not preset.builtin and not preset.loras]
# Presets of one family run their tasks through the same code: every task runs on the first
# of each family, the main task on the others.
EVERY_TASK = {
    next(p.id for p in family.presets if not p.builtin) for family in FAMILIES.values()
}
SIDE = 64


def _small(preset: Preset) -> Preset:
    """The same preset limited to a toy size, so tiny checkpoints run in a fraction of a second."""
    # The fewest frames: one latent frame past the first, or one LTX chunk.
    frames = preset.min_frames
    return dataclasses.replace(
        preset,
        sizes=((SIDE, SIDE),),
        default_width=SIDE,
        default_height=SIDE,
        min_frames=frames,
        default_frames=frames,
        max_frames=max(frames, preset.frame_step + 1),
        default_steps=2,
    )


@pytest.fixture
def installed(offline_model_store: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a tiny checkpoint of a preset into the models folder; returns its folder."""

    def install(preset: Preset) -> Path:
        monkeypatch.setitem(CATALOGUE, preset.id, _small(preset))
        folder = offline_model_store / preset.id
        build_pipeline(preset.id, "tiny", seed=0).save_pretrained(folder)
        return folder

    return install


def _image(seed: int, side: int = SIDE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def _inputs(task: Task, preset: Preset) -> dict[str, Any]:
    frames = preset.default_frames
    video = np.stack([_image(10 + i) for i in range(frames)])
    mask = np.zeros((frames, SIDE, SIDE), dtype=bool)
    mask[:, SIDE // 4 : SIDE // 2, SIDE // 4 : SIDE // 2] = True
    return {
        Task.T2V: {},
        Task.I2V: {"image": _image(1),
                   **({"end_image": _image(4)} if preset.requires_end_image else {})},
        Task.V2V: {"video": video, "strength": 0.7},
        Task.EDIT: {"video": video, "mask": mask},
        Task.EXTEND: {"video": video[:1]},
        Task.PERSONALIZE: {"reference_images": [Image.fromarray(_image(2))]},
        Task.CONTROL: {"video": video, "conditioning_scale": 0.5},
    }[task]


def _request(preset: Preset, task: Task, **overrides: Any) -> GenerationRequest:
    small = _small(preset)
    fields: dict[str, Any] = {
        "preset_id": preset.id,
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "width": SIDE,
        "height": SIDE,
        "num_frames": small.default_frames,
        "steps": 2,
        "guidance": min(preset.default_guidance, preset.max_guidance),
        "seed": 77,
        "task": str(task),
        **_inputs(task, small),
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


def _direct(folder: Path, preset: Preset, request: GenerationRequest) -> np.ndarray:
    """The same job as a plain diffusers script would run it, written out by hand."""
    task = Task(request.task)
    pipeline = getattr(diffusers, preset.pipeline_class_for(task)).from_pretrained(
        folder, local_files_only=True
    )
    pipeline.set_progress_bar_config(disable=True)
    kwargs: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "height": request.height,
        "width": request.width,
        "num_frames": request.num_frames,
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        **preset.call_defaults,
    }
    # Written from the diffusers pipelines' signatures, not from the catalogue's adapters.
    if preset.pipeline_class.startswith("LTX"):
        kwargs["frame_rate"] = preset.fps
    if task == Task.I2V:
        if preset.pipeline_class == "WanVACEPipeline":
            grey = Image.new("RGB", (SIDE, SIDE), (127, 127, 127))
            count = request.num_frames
            kwargs["video"] = [Image.fromarray(request.image)] + [grey] * (count - 1)
            kwargs["mask"] = [Image.new("L", (SIDE, SIDE), 0)] + [
                Image.new("L", (SIDE, SIDE), 255)
            ] * (count - 1)
        else:
            kwargs["image"] = Image.fromarray(request.image)
        if request.end_image is not None:
            kwargs["last_image"] = Image.fromarray(request.end_image)
    if task == Task.EDIT:
        kwargs["video"] = [Image.fromarray(frame) for frame in request.video]
        kwargs["mask"] = [Image.fromarray(m.astype(np.uint8) * 255) for m in request.mask]
    if task == Task.CONTROL:  # a control track, the whole frame to make, followed at a scale
        kwargs["video"] = [Image.fromarray(frame) for frame in request.video]
        kwargs["mask"] = [Image.new("L", (SIDE, SIDE), 255)] * request.num_frames
        kwargs["conditioning_scale"] = request.conditioning_scale
    if task == Task.V2V:
        del kwargs["num_frames"]
        kwargs["video"] = [Image.fromarray(frame) for frame in request.video]
        if preset.pipeline_class_for(task) != "WanVACEPipeline":
            kwargs["strength"] = request.strength
    accepted = inspect.signature(pipeline.__call__).parameters
    if "guidance_scale" not in accepted:  # HunyuanVideo 1.5: guidance is its guider's
        pipeline.guider = pipeline.guider.new(guidance_scale=kwargs.pop("guidance_scale"))
    if "height" not in accepted:  # its image-to-video pipeline sizes by the image
        del kwargs["height"], kwargs["width"]
    frames = pipeline(
        **kwargs,
        generator=torch.Generator("cpu").manual_seed(request.seed),
        output_type="np",
    ).frames[0]
    return frames_to_uint8(np.asarray(frames)[: request.num_frames])


def _primary(preset: Preset) -> Task:
    return Task.T2V if preset.can(Task.T2V) else Task.I2V


@pytest.mark.parametrize("preset", HUB_PRESETS, ids=[p.id for p in HUB_PRESETS])
def test_tiny_checkpoint_loads_and_runs_every_task_like_diffusers(preset: Preset, installed):
    folder = installed(preset)
    cache = PipelineCache()
    tasks = list(preset.tasks) if preset.id in EVERY_TASK else [_primary(preset)]
    for task in tasks:
        seen: list[StepInfo] = []
        request = _request(preset, task)
        result = run_generation(request, seen.append, cache)
        assert result.frames.dtype == np.uint8
        assert result.frames.shape == (request.num_frames, SIDE, SIDE, 3), task
        assert result.fps == preset.fps
        assert seen and seen[-1].step == seen[-1].total, task
        if task in (_primary(preset), Task.EDIT, Task.CONTROL):
            assert np.array_equal(result.frames, _direct(folder, preset, request)), task
    loaded = cache.get_loaded(preset.id)
    assert type(loaded.pipeline).__name__ == preset.pipeline_class
    assert cache.loads == 1, "every task runs on the one loaded set of weights"


def test_a_real_size_job_runs_through_the_loader(installed, monkeypatch):
    # LTX-Video's tiny checkpoint is quick enough at its real default size.
    preset = CATALOGUE["ltx-video"]
    installed(preset)
    monkeypatch.setitem(CATALOGUE, preset.id, preset)
    request = _request(preset, Task.T2V, width=704, height=480, num_frames=9)
    result = run_generation(request, lambda info: None, PipelineCache())
    assert result.frames.shape == (9, 480, 704, 3)


@pytest.mark.parametrize("preset", HUB_PRESETS, ids=[p.id for p in HUB_PRESETS])
def test_missing_weights_name_the_model_and_the_admin_command(preset: Preset, monkeypatch):
    monkeypatch.setitem(CATALOGUE, preset.id, _small(preset))
    with pytest.raises(GenerationError) as caught:
        run_generation(_request(preset, _primary(preset)), lambda info: None, PipelineCache())
    assert caught.value.code == "weights_missing"
    assert preset.label in str(caught.value)
    assert f"python manage.py fetch_model {preset.id}" in str(caught.value)


def test_damaged_weights_fail_at_once_with_the_admin_fix(installed):
    preset = CATALOGUE["wan2.1-vace-1.3b"]
    folder = installed(preset)
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.write_bytes(b"\x00" * 64)
    with pytest.raises(GenerationError) as caught:
        run_generation(_request(preset, Task.T2V), lambda info: None, PipelineCache())
    assert caught.value.code == "weights_missing"
    assert "damaged" in str(caught.value)
    assert f"fetch_model {preset.id} --remove" in str(caught.value)


def test_a_component_missing_from_the_folder_reads_as_not_installed(installed):
    preset = CATALOGUE["cogvideox-5b"]
    folder = installed(preset)
    assert catalogue.get_preset(preset.id).is_installed()
    for path in sorted((folder / "vae").iterdir()):
        path.unlink()
    (folder / "vae").rmdir()
    assert not catalogue.get_preset(preset.id).is_installed()


@pytest.mark.parametrize(
    ("preset_id", "task", "overrides", "says"),
    [
        ("wan2.1-t2v-1.3b", Task.I2V, {"image": _image(1)}, "cannot do i2v"),
        ("wan2.1-i2v-14b-480p", Task.I2V, {"image": None}, "needs: image"),
        ("wan2.1-i2v-14b-480p", Task.I2V, {"end_image": _image(3)}, "does not take: end_image"),
        ("wan2.1-flf2v-14b-720p", Task.I2V, {"end_image": None}, "needs: end_image"),
        ("wan2.1-vace-1.3b", Task.EDIT, {"mask": None}, "needs: mask"),
        ("wan2.1-vace-1.3b", Task.EXTEND, {"video": np.zeros((5, SIDE, SIDE, 3), np.uint8)},
         "ask for more than 5"),
        ("wan2.1-vace-1.3b", Task.PERSONALIZE,
         {"reference_images": [_image(i) for i in range(4)]}, "at most 3 reference"),
        ("cogvideox-5b", Task.V2V, {"strength": 1.5}, "Strength"),
        ("cogvideox-5b", Task.V2V, {"video": np.zeros((3, SIDE, SIDE, 3), np.uint8)},
         "has 3 frames"),
        ("tiny", "dance", {}, "Unknown task"),
    ],
)
def test_wrong_inputs_for_a_task_are_refused_before_loading(
    preset_id, task, overrides, says, monkeypatch
):
    preset = CATALOGUE[preset_id]
    monkeypatch.setitem(CATALOGUE, preset_id, _small(preset))
    base = _request(preset, Task.T2V if task == "dance" else task)
    request = dataclasses.replace(base, task=str(task), **overrides)
    cache = PipelineCache()
    with pytest.raises(GenerationError) as caught:
        run_generation(request, lambda info: None, cache)
    assert caught.value.code == "bad_parameters"
    assert says in str(caught.value)
    assert cache.loads == 0


FIRST_OF_FAMILY = [preset for preset in HUB_PRESETS if preset.id in EVERY_TASK]


@pytest.mark.parametrize("preset", FIRST_OF_FAMILY, ids=[p.id for p in FIRST_OF_FAMILY])
def test_every_step_of_every_family_and_task_has_a_live_preview(preset: Preset, installed):
    """Live progress for every family: each step's callback counts the step and hands over
    latents a preview can be made of (LTX-Video's packed ones unpacked first)."""
    installed(preset)
    cache = PipelineCache()
    for task in preset.tasks:
        seen: list[StepInfo] = []
        run_generation(_request(preset, task), seen.append, cache, decode=False)
        assert [info.step for info in seen] == list(range(1, seen[-1].total + 1)), task
        for info in seen:
            assert info.latents is not None and info.latents.ndim == 5, (task, info.latents)
            with Image.open(io.BytesIO(latents_to_preview_jpeg(info.latents))) as jpeg:
                assert jpeg.format == "JPEG", task
