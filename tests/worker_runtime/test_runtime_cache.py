"""PipelineCache: lazy loads, reuse, LRU eviction that lets the weights go."""

from __future__ import annotations

import gc
import weakref

import pytest

from worker.runtime.cache import LoadedPipeline, PipelineCache, select_device


class _Pipeline:
    def __init__(self, preset_id: str) -> None:
        self.preset_id = preset_id


class _Loader:
    def __init__(self) -> None:
        self.made: dict[str, weakref.ref[_Pipeline]] = {}

    def __call__(self, preset_id: str) -> LoadedPipeline:
        pipeline = _Pipeline(preset_id)
        self.made[preset_id] = weakref.ref(pipeline)
        return LoadedPipeline(pipeline=pipeline, device="cpu", memory_profile="cpu")


def test_second_get_does_not_load_again(caplog):
    caplog.set_level("INFO", logger="framecraft.worker")
    cache = PipelineCache(loader=_Loader())
    first = cache.get("tiny")
    assert cache.get("tiny") is first
    assert cache.loads == 1
    assert "loading preset tiny" in [record.getMessage() for record in caplog.records]


def test_switching_presets_with_one_entry_evicts_and_frees_the_old_pipeline():
    loader = _Loader()
    cache = PipelineCache(loader=loader, max_entries=1)
    cache.get("tiny")
    cache.get("wan2.1-t2v-1.3b")
    gc.collect()
    assert cache.loaded_ids() == ["wan2.1-t2v-1.3b"]
    assert loader.made["tiny"]() is None
    assert cache.loads == 2
    cache.get("tiny")
    assert cache.loads == 3


def test_the_least_recently_used_pipeline_goes_first():
    cache = PipelineCache(loader=_Loader(), max_entries=2)
    cache.get("a")
    cache.get("b")
    cache.get("a")
    cache.get("c")
    assert cache.loaded_ids() == ["a", "c"]


def test_clear_drops_everything():
    loader = _Loader()
    cache = PipelineCache(loader=loader, max_entries=2)
    cache.get("a")
    cache.clear()
    gc.collect()
    assert len(cache) == 0 and "a" not in cache
    assert loader.made["a"]() is None


def test_a_failed_load_caches_nothing():
    def broken(preset_id: str) -> LoadedPipeline:
        raise OSError("disk on fire")

    cache = PipelineCache(loader=broken)
    with pytest.raises(OSError):
        cache.get("tiny")
    assert len(cache) == 0 and cache.loads == 0


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError):
        PipelineCache(max_entries=0)


def test_device_follows_framecraft_device(monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEVICE", "cpu")
    assert select_device().type == "cpu"


def test_importing_the_runtime_does_not_initialise_cuda():
    import torch

    import worker.runtime.cache
    import worker.runtime.runner  # noqa: F401

    assert not torch.cuda.is_initialized()


@pytest.mark.parametrize(("preset_id", "task_class", "dtypes"), [
    # The Wan VAE stays in float32 beside a bf16 denoiser (fp32_components).
    ("wan2.1-t2v-1.3b", "WanVideoToVideoPipeline", {"transformer": "bfloat16", "vae": "float32"}),
    ("ltx-video", "LTXConditionPipeline", {"transformer": "bfloat16", "vae": "bfloat16"}),
])
def test_a_task_pipeline_shares_the_loaded_components_as_they_are(preset_id, task_class, dtypes):
    """A restyle or keyframe job runs another pipeline class on the same weights: nothing is
    copied, and no component changes dtype (diffusers' from_pipe cast them all to float32)."""
    import torch

    from worker.catalogue import build_pipeline

    pipeline = build_pipeline(preset_id, "tiny", dtype=torch.bfloat16)
    loaded = LoadedPipeline(pipeline, "cpu", "cpu")
    variant = loaded.for_task(task_class)
    assert type(variant).__name__ == task_class
    assert loaded.for_task(task_class) is variant
    for name, dtype in dtypes.items():
        assert getattr(variant, name) is getattr(pipeline, name)
        assert str(getattr(pipeline, name).dtype) == f"torch.{dtype}", name
    assert variant.text_encoder.dtype == torch.bfloat16
