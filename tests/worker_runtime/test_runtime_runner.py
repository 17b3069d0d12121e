"""run_generation of a text-to-video request: parity with diffusers, progress, cancel, and failures
as status keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from worker.catalogue import (
    GenerationError,
    JobCancelled,
    StepInfo,
    build_pipeline,
    get_preset,
)
from worker.runtime.cache import LoadedPipeline, PipelineCache
from worker.runtime.memory import GpuMemory, choose_plan
from worker.runtime.runner import frames_to_uint8, run_generation


def _ignore(info: StepInfo) -> None:
    pass


def _cache_of(pipeline: object) -> PipelineCache:
    return PipelineCache(
        loader=lambda preset_id: LoadedPipeline(pipeline, device="cpu", memory_profile="cpu")
    )


def _direct_call(pipeline, request, output_type: str):
    """The same generation as a plain diffusers call, for parity checks."""
    return pipeline(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or None,
        height=request.height,
        width=request.width,
        num_frames=request.num_frames,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=torch.Generator("cpu").manual_seed(request.seed),
        output_type=output_type,
    ).frames[0]


def test_runner_frames_equal_a_direct_diffusers_call_bitwise(make_request, cache, tiny_pipeline):
    request = make_request(negative_prompt="blurry", steps=3)
    result = run_generation(request, _ignore, cache)

    direct = _direct_call(tiny_pipeline, request, "np")
    assert np.array_equal(result.frames, frames_to_uint8(direct))
    assert result.frames.shape == (5, 96, 160, 3)
    assert result.frames.dtype == np.uint8


def test_uint8_frames_match_the_pil_images_diffusers_makes(make_request, cache, tiny_pipeline):
    request = make_request()
    result = run_generation(request, _ignore, cache)
    images = _direct_call(tiny_pipeline, request, "pil")
    assert np.array_equal(result.frames, np.stack([np.asarray(image) for image in images]))


def test_same_seed_reproduces_and_another_seed_differs(make_request, cache):
    first = run_generation(make_request(seed=5), _ignore, cache).frames
    again = run_generation(make_request(seed=5), _ignore, cache).frames
    other = run_generation(make_request(seed=6), _ignore, cache).frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_result_reports_fps_device_and_timings(make_request, cache):
    result = run_generation(make_request(), _ignore, cache)
    assert result.fps == 8
    assert result.device == "cpu"
    assert result.memory_profile == "cpu"
    assert {"load_s", "denoise_s", "decode_s", "total_s"} <= set(result.timings)
    assert all(value >= 0 for value in result.timings.values())
    assert result.timings["total_s"] >= result.timings["denoise_s"] + result.timings["decode_s"]


def test_second_job_reuses_the_loaded_pipeline(make_request, cache, caplog):
    caplog.set_level("INFO", logger="framecraft.worker")
    run_generation(make_request(), _ignore, cache)
    second = run_generation(make_request(seed=2), _ignore, cache)
    assert cache.loads == 1
    assert second.timings["load_s"] < 0.05
    assert [r.getMessage() for r in caplog.records].count("loading preset tiny") == 1


def test_on_step_runs_once_per_step_with_the_latents(make_request, cache):
    seen: list[StepInfo] = []
    run_generation(make_request(steps=4), seen.append, cache)
    assert [info.step for info in seen] == [1, 2, 3, 4]
    assert {info.total for info in seen} == {4}
    elapsed = [info.elapsed_s for info in seen]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0
    # Wan latents: (batch, 16 channels, (frames - 1) / 4 + 1, height / 8, width / 8).
    assert all(tuple(info.latents.shape) == (1, 16, 2, 12, 20) for info in seen)


def test_job_cancelled_from_on_step_stops_the_run_there(make_request, cache):
    steps: list[int] = []
    cancel = JobCancelled("user asked")

    def on_step(info: StepInfo) -> None:
        steps.append(info.step)
        if info.step == 2:
            raise cancel

    with pytest.raises(JobCancelled) as caught:
        run_generation(make_request(steps=6), on_step, cache)
    assert caught.value is cancel
    assert steps == [1, 2]


def test_a_cancelled_job_leaves_the_pipeline_ready_for_the_next(make_request, cache):
    expected = run_generation(make_request(steps=3), _ignore, cache).frames

    def cancel_at_once(info: StepInfo) -> None:
        raise JobCancelled()

    with pytest.raises(JobCancelled):
        run_generation(make_request(steps=3), cancel_at_once, cache)
    assert np.array_equal(run_generation(make_request(steps=3), _ignore, cache).frames, expected)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"num_frames": 16}, "one more than a multiple of 4"),
        ({"num_frames": 37}, "between 5 and 33"),
        ({"width": 100, "height": 100}, "100x100 is not offered"),
        ({"steps": 51}, "between 1 and 50"),
        ({"steps": 0}, "between 1 and 50"),
        ({"guidance": 25.0}, "Guidance"),
        ({"guidance": float("nan")}, "Guidance"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "between 0 and 4294967295"),
        ({"width": "128"}, "width"),
        ({"preset_id": "nope"}, "unknown preset"),
    ],
)
def test_bad_parameters_are_refused_before_loading(make_request, cache, overrides, says):
    with pytest.raises(GenerationError) as caught:
        run_generation(make_request(**overrides), _ignore, cache)
    assert caught.value.code == "bad_parameters"
    assert says in str(caught.value)
    assert cache.loads == 0


def test_missing_weights_for_a_hub_preset_name_the_admin_command(make_request, cache):
    request = make_request(preset_id="wan2.1-t2v-1.3b", width=832, height=480, num_frames=9)
    with pytest.raises(GenerationError) as caught:
        run_generation(request, _ignore, cache)
    assert caught.value.code == "weights_missing"
    assert "Wan 2.1" in str(caught.value)
    assert "python manage.py fetch_model wan2.1-t2v-1.3b" in str(caught.value)


def test_hub_preset_loads_from_the_models_folder_with_the_production_loader(
    offline_model_store: Path, make_request, cache
):
    tiny = build_pipeline("tiny", "tiny", seed=0)
    tiny.save_pretrained(offline_model_store / "wan2.1-t2v-1.3b")
    pipeline = cache.get("wan2.1-t2v-1.3b")
    assert type(pipeline).__name__ == "WanPipeline"
    assert pipeline.transformer.dtype == torch.float32  # bf16 only on CUDA
    for name in ("transformer", "vae", "text_encoder"):
        saved, loaded = getattr(tiny, name).state_dict(), getattr(pipeline, name).state_dict()
        assert saved.keys() == loaded.keys()
        assert all(torch.equal(saved[key], loaded[key]) for key in saved), name
    # The checkpoint is the tiny model, so the loaded pipeline remakes the tiny preset's frames.
    # Weights read from the file sit at unaligned addresses, which sends CPU matmuls down other
    # kernels: sums may differ in the last float bit, never by more than one level of 255.
    request = make_request()
    loaded = frames_to_uint8(_direct_call(pipeline, request, "np"))
    built = run_generation(request, _ignore, PipelineCache()).frames
    assert loaded.shape == built.shape == (5, 96, 160, 3)
    assert np.abs(loaded.astype(int) - built.astype(int)).max() <= 1


class _RecordingVae:
    def __init__(self) -> None:
        self.tiling = False
        self.calls: list[str] = []

    def enable_tiling(self) -> None:
        self.tiling = True
        self.calls.append("enable")

    def disable_tiling(self) -> None:
        self.tiling = False
        self.calls.append("disable")


class _Pipeline:
    """Stands in for a GPU pipeline: notes whether its decode was tiled, makes blank frames."""

    def __init__(self) -> None:
        self.vae = _RecordingVae()
        self.tiled_during_call: list[bool] = []

    def __call__(self, **kwargs: object) -> object:
        self.tiled_during_call.append(self.vae.tiling)
        return type("Output", (), {"frames": [torch.zeros(kwargs["num_frames"], 3, 8, 8)]})()


def test_a_job_too_long_for_the_plan_decodes_in_tiles_for_that_job_only(make_request):
    ltx = get_preset("ltx-video")
    gpu = GpuMemory(24, 24)
    plan = choose_plan(ltx.memory, gpu, steps=ltx.default_steps)
    assert not plan.vae_tiling
    pipeline = _Pipeline()
    cache = PipelineCache(loader=lambda preset_id: LoadedPipeline(
        pipeline, device="cuda", memory_profile=plan.profile, plan=plan, gpu=gpu))
    base = {"preset_id": "ltx-video", "steps": 2, "width": ltx.default_width,
            "height": ltx.default_height}

    largest = {**base, "width": 768, "height": 512, "num_frames": ltx.max_frames}
    results = [
        run_generation(make_request(**base, num_frames=ltx.default_frames), _ignore, cache),
        run_generation(make_request(**largest), _ignore, cache),
        run_generation(make_request(**base, num_frames=ltx.default_frames), _ignore, cache),
    ]

    assert pipeline.tiled_during_call == [False, True, False]
    assert [result.vae_tiling for result in results] == [False, True, False]
    assert pipeline.vae.calls == ["enable", "disable"]


class _Failing:
    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.reset = 0

    def __call__(self, **kwargs: object) -> None:
        raise self.error

    def maybe_free_model_hooks(self) -> None:
        self.reset += 1


def test_out_of_memory_becomes_out_of_memory(make_request):
    failing = _Failing(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB"))
    with pytest.raises(GenerationError) as caught:
        run_generation(make_request(), _ignore, _cache_of(failing))
    assert caught.value.code == "out_of_memory"
    assert "smaller size or fewer frames" in str(caught.value)
    assert failing.reset == 1


def test_other_model_failures_become_model_error(make_request):
    failing = _Failing(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(GenerationError) as caught:
        run_generation(make_request(), _ignore, _cache_of(failing))
    assert caught.value.code == "model_error"
    assert "shapes cannot be multiplied" in str(caught.value)


def test_celery_time_limits_pass_through_untouched(make_request):
    class SoftTimeLimitExceeded(Exception):
        pass

    with pytest.raises(SoftTimeLimitExceeded):
        run_generation(make_request(), _ignore, _cache_of(_Failing(SoftTimeLimitExceeded())))
