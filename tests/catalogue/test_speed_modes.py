"""Speed modes as the catalogue describes them: which mode a preset offers, what each runs,
which step cache each family gets, the ETA each predicts, and that MagCache's predicted skips
are the ones diffusers' hook really makes."""

from __future__ import annotations

import pytest
import torch

from generation.presets import presets_for
from worker.catalogue import CATALOGUE, FAMILIES, Task, build_pipeline, get_preset
from worker.catalogue.magcache import PUBLISHED, computed_steps, interpolated
from worker.catalogue.speed import (
    FP8_FACTOR,
    QUALITY_FACTOR,
    SpeedMode,
    eta_s,
    fp8_capable,
    gpu_name_has_fp8,
    mode_error,
    mode_run,
    preview_variant,
    step_cache_for,
)

CALIBRATED = ("wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p")


def test_each_wan_21_calibration_the_authors_published_is_magcache_data():
    assert set(PUBLISHED) == set(CALIBRATED)
    for preset_id in CALIBRATED:
        cache = step_cache_for(get_preset(preset_id))
        assert cache.kind == "magcache"
        # 50 text-to-video steps or 40 image-to-video steps, conditional branch only.
        assert len(cache.ratios) == (40 if "i2v" in preset_id else 50)
        assert cache.ratios[0] == 1.0


def test_every_other_family_gets_first_block_cache():
    others = [p for p in CATALOGUE.values()
              if p.id not in CALIBRATED and (p.preview_of or "") not in CALIBRATED]
    assert {p.family for p in others} >= {"ltx", "cogvideox", "kandinsky5", "framepack",
                                          "wan_vace", "wan22"}
    assert {step_cache_for(p).kind for p in others} == {"first_block"}


def test_balanced_is_predicted_to_compute_under_half_of_wan_steps():
    for preset_id in CALIBRATED:
        fraction = step_cache_for(get_preset(preset_id)).computed_fraction(50)
        assert 0.3 <= fraction < 0.45, preset_id


def test_the_predicted_skips_are_the_ones_diffusers_magcache_hook_makes():
    """The prediction the ETA uses runs diffusers' own rule: the same steps are skipped."""
    from worker.runtime.speed import SkipCount, step_cache

    pipeline = build_pipeline("tiny", "tiny", seed=0)
    cache = step_cache_for(get_preset("wan2.1-t2v-1.3b"))
    steps = 12
    predicted = computed_steps(interpolated(cache.ratios, steps), threshold=cache.threshold,
                               max_skip=cache.max_skip, retention=cache.retention)
    with step_cache(pipeline, cache, steps) as count:
        assert isinstance(count, SkipCount)
        pipeline("a fox", height=64, width=64, num_frames=5, num_inference_steps=steps,
                 guidance_scale=1.0, output_type="latent",
                 generator=torch.Generator().manual_seed(0))
    assert count.forwards == steps
    assert count.skipped == predicted.count(False) > 0


def test_only_presets_with_a_distilled_variant_offer_preview():
    wan = get_preset("wan2.1-t2v-14b")
    variant = preview_variant(wan)
    assert variant is not None and variant.preview_of == wan.id
    assert [lora.repo for lora in variant.loras] == ["lightx2v/Wan2.1-Distill-Loras"]
    assert (variant.default_steps, variant.default_guidance) == (4, 1.0)
    assert preview_variant(get_preset("cogvideox-5b")) is None
    assert "no Preview model" in (mode_error(get_preset("cogvideox-5b"), "preview") or "")
    for base in ("wan2.1-t2v-1.3b", "wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p",
                 "kandinsky5-lite-t2v", "tiny"):
        assert preview_variant(get_preset(base)) is not None, base


def test_a_preview_whose_weights_are_missing_says_how_to_install_them():
    problem = mode_error(get_preset("wan2.1-t2v-14b"), "preview")
    assert problem is not None
    assert "fetch_model wan2.1-t2v-14b-preview" in problem
    assert mode_error(get_preset("tiny"), "preview") is None


def test_unknown_modes_and_fp8_with_preview_are_refused():
    tiny = get_preset("tiny")
    assert "Pick a speed" in (mode_error(tiny, "ludicrous") or "")
    assert (mode_error(tiny, "preview", fp8=True) or "").startswith("fp8")
    assert mode_error(tiny, "balanced", fp8=True) is None


def test_preview_runs_the_variant_at_its_steps_others_as_asked():
    tiny = get_preset("tiny")
    run = mode_run(tiny, SpeedMode.PREVIEW, 30, 6.0)
    assert (run.preset.id, run.steps, run.guidance) == ("tiny-preview", 4, 1.0)
    assert run.preset.scheduler_class == "UniPCMultistepScheduler"
    for mode in ("quality", "balanced"):
        run = mode_run(tiny, mode, 30, 6.0)
        assert (run.preset.id, run.steps, run.guidance) == ("tiny", 30, 6.0)


def test_the_eta_is_the_measured_step_time_times_steps_times_the_mode_factor():
    wan = get_preset("wan2.1-t2v-1.3b")
    plain = wan.memory.step_s * 50
    assert eta_s(wan, "quality", 50, 5.0) == pytest.approx(plain * QUALITY_FACTOR)
    assert eta_s(wan, "quality", 50, 5.0, fp8=True) == pytest.approx(plain * FP8_FACTOR)
    balanced = step_cache_for(wan).computed_fraction(50)
    assert eta_s(wan, "balanced", 50, 5.0) == pytest.approx(plain * balanced)
    # Preview: 4 steps, one forward each (no CFG), whatever steps were asked.
    assert eta_s(wan, "preview", 50, 5.0) == pytest.approx(wan.memory.step_s * 4 * 0.5)
    assert eta_s(wan, "preview", 50, 5.0) < eta_s(wan, "balanced", 50, 5.0) \
        < eta_s(wan, "quality", 50, 5.0)
    # Without CFG a step is one forward.
    assert eta_s(wan, "quality", 50, 1.0) == pytest.approx(plain * QUALITY_FACTOR / 2)


def test_preview_variants_are_never_offered_as_models():
    offered = {p.id for task in Task for p in presets_for(task)}
    assert "tiny" in offered
    assert not any(CATALOGUE[pid].preview_of for pid in offered)
    assert "tiny-preview" in CATALOGUE


def test_lora_variants_build_the_base_architecture():
    for family in FAMILIES.values():
        for preset in family.presets:
            if preset.loras:
                base = get_preset(preset.preview_of or "")
                assert preset.pipeline_class == base.pipeline_class
                assert preset.sizes == base.sizes and preset.memory == base.memory


def test_fp8_needs_compute_capability_89_and_known_gpus_have_it():
    assert fp8_capable((9, 0)) and fp8_capable((8, 9))
    assert not fp8_capable((8, 6)) and not fp8_capable((8, 0))
    assert gpu_name_has_fp8("NVIDIA H100 80GB HBM3")
    assert gpu_name_has_fp8("NVIDIA GeForce RTX 4090")
    assert not gpu_name_has_fp8("NVIDIA A100-SXM4-80GB")
    assert not gpu_name_has_fp8("")
