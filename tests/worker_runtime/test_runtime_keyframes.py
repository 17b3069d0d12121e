"""LTX-Video keyframes on the CPU: the tiny LTX checkpoint through the production loader, the
condition pipeline built from the same components, and what the runner refuses before loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from worker.catalogue import (
    Ability,
    GenerationError,
    Keyframe,
    Preset,
    build_pipeline,
    family_of,
    get_preset,
)
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation

LTX = "ltx-video"
SIZE = {"width": 704, "height": 480}


def _ignore(info) -> None:
    pass


def _image(colour: tuple[int, int, int], size=(300, 200)) -> Image.Image:
    return Image.new("RGB", size, colour)


@pytest.fixture
def ltx_request(make_request):
    def make(**overrides):
        fields = {"preset_id": LTX, "task": "i2v", "num_frames": 17, "steps": 2,
                  "guidance": 3.0, "image": _image((200, 30, 30)), **SIZE}
        fields.update(overrides)
        return make_request(**fields)

    return make


@pytest.fixture
def ltx_cache(offline_model_store: Path) -> PipelineCache:
    build_pipeline(LTX, "tiny", seed=0).save_pretrained(offline_model_store / LTX)
    return PipelineCache()


def test_ltx_video_takes_keyframes_through_its_condition_pipeline():
    import diffusers

    ltx = get_preset(LTX)
    assert ltx.supports(Ability.KEYFRAMES) and ltx.max_keyframes >= 2
    assert hasattr(diffusers, ltx.keyframe_pipeline_class)
    # Every 8th frame after the start image's frame 0, up to the clip's last.
    assert ltx.keyframe_frames(17) == (8, 16)
    assert ltx.keyframe_frames(9) == (8,)
    assert not get_preset("wan2.1-i2v-14b-480p").supports(Ability.KEYFRAMES)
    with pytest.raises(ValueError, match="keyframes need max_keyframes"):
        Preset(**{**{f: getattr(ltx, f) for f in ltx.__dataclass_fields__}, "max_keyframes": 0})


def test_keyframes_run_on_the_condition_pipeline_and_change_the_video(ltx_request, ltx_cache):
    # 9 frames, the shortest clip: a keyframe on its last frame (the CPU decode dominates).
    keyframes = (Keyframe(_image((0, 0, 220)), 8, 0.7),)
    plain = run_generation(ltx_request(num_frames=9), _ignore, ltx_cache)
    loaded = ltx_cache.get_loaded(LTX)
    assert set(loaded.variants) == {"LTXImageToVideoPipeline"}  # a start image alone
    steered = run_generation(ltx_request(num_frames=9, keyframes=keyframes), _ignore,
                             ltx_cache)
    assert set(loaded.variants) == {"LTXImageToVideoPipeline", "LTXConditionPipeline"}
    condition = loaded.variants["LTXConditionPipeline"]
    # Built from the loaded components, with a scheduler of its own that takes its schedule.
    assert condition.transformer is loaded.pipeline.transformer
    assert condition.scheduler is not loaded.pipeline.scheduler
    assert condition.scheduler.config.use_dynamic_shifting is False
    assert plain.frames.shape == steered.frames.shape == (9, 480, 704, 3)
    assert not np.array_equal(plain.frames, steered.frames)


def test_the_adapter_puts_the_start_image_first_and_fits_every_image(ltx_request):
    preset = get_preset(LTX)
    request = ltx_request(keyframes=(Keyframe(_image((0, 0, 220), (90, 160)), 16, 0.25),
                                     Keyframe(_image((0, 220, 0)), 8, 0.5)))
    kwargs = family_of(preset).calls.pipeline_kwargs(preset, request)
    assert "image" not in kwargs
    conditions = kwargs["conditions"]
    assert [(c.frame_index, c.strength) for c in conditions] == [(0, 1.0), (16, 0.25), (8, 0.5)]
    assert {c.image.size for c in conditions} == {(704, 480)}
    assert family_of(preset).calls.pipeline_class(preset, request) == "LTXConditionPipeline"


@pytest.mark.parametrize(("keyframes", "says"), [
    ([(12, 1.0)], "Keyframe 1 is at frame 12; keyframes sit on every 8th frame (try 8 or 16)."),
    ([(24, 1.0)], "Keyframe 1 is at frame 24, beyond the clip's last frame (16)."),
    ([(0, 1.0)], "Keyframe 1 is at frame 0, the start image's"),
    ([(8, 1.0), (8, 0.5)], "Keyframes 1 and 2 are both at frame 8"),
    ([(8, 1.5)], "Keyframe 1's strength must be between 0 and 1; 1.5 is not."),
])
def test_misplaced_keyframes_are_refused_before_loading(ltx_request, keyframes, says):
    cache = PipelineCache()
    request = ltx_request(keyframes=tuple(Keyframe(_image((1, 2, 3)), f, s)
                                          for f, s in keyframes))
    with pytest.raises(GenerationError) as caught:
        run_generation(request, _ignore, cache)
    assert caught.value.code == "bad_parameters"
    assert says in caught.value.message
    assert cache.loaded_ids() == []


def test_keyframes_on_a_preset_without_them_are_refused(make_request):
    request = make_request(preset_id="wan2.1-i2v-14b-480p", task="i2v", width=832, height=480,
                           num_frames=17, image=_image((1, 2, 3)),
                           keyframes=(Keyframe(_image((1, 2, 3)), 8, 1.0),))
    with pytest.raises(GenerationError, match="does not take: keyframes"):
        run_generation(request, _ignore, PipelineCache())
