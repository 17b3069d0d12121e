"""The memory model against the H200 benchmark: every measured peak in docs/performance.json
must be predicted, never under (a worker would pick a profile that runs out of memory) and not
far over (it would offload more than it needs to)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.catalogue import get_preset
from worker.runtime.memory import MemoryProfile, peak_gb

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "performance.json"
# Over-prediction allowed: 15%, and half a GiB on small figures (2 GiB peaks under offload).
MAX_RATIO = 1.15
SLACK_GB = 0.5
TILING = " + vae tiling"
# Rows that ran every component on the GPU without the worker's plans.
ALL_ON_GPU = ("plain diffusers (all on GPU)",)


def plan_of(row: dict[str, Any]) -> tuple[MemoryProfile, bool] | None:
    """The (profile, vae tiling) a benchmark row ran with; None for rows without a GPU peak.

    Profiles are written as `group_offload_leaf + vae tiling`, or `cold job (gpu)` for the
    cold/warm rows; an unknown label fails, so new benchmark rows cannot go unchecked.
    """
    if "peak_gb" not in row:  # out of memory or failed: nothing was measured
        return None
    label = row["profile"]
    tiling = label.endswith(TILING)
    label = label.removesuffix(TILING)
    if label in ALL_ON_GPU:
        return MemoryProfile.GPU, tiling
    if label.endswith(")") and "(" in label:  # "cold job (gpu)"
        label = label[label.index("(") + 1 : -1]
    profile = MemoryProfile(label)
    if profile == MemoryProfile.CPU:
        return None
    return profile, tiling


def _rows() -> list[dict[str, Any]]:
    return json.loads(RESULTS.read_text())["rows"]


def _row_id(row: dict[str, Any]) -> str:
    return f"{row['section']}-{row['model']}-{row['profile']}"


MEASURED = [row for row in _rows() if plan_of(row) is not None]


def test_the_benchmark_measured_every_profile_on_a_gpu():
    profiles = {plan_of(row) for row in MEASURED}
    assert {profile for profile, _ in profiles} == {
        MemoryProfile.GPU,
        MemoryProfile.MODEL_OFFLOAD,
        MemoryProfile.GROUP_LEAF,
        MemoryProfile.GROUP_BLOCK,
        MemoryProfile.SEQUENTIAL,
    }
    assert len({row["model"] for row in MEASURED}) >= 10


@pytest.mark.parametrize("row", MEASURED, ids=[_row_id(row) for row in MEASURED])
def test_predicted_peak_covers_the_measured_one_closely(row):
    plan = plan_of(row)
    assert plan is not None
    profile, tiling = plan
    preset = get_preset(row["model"])
    width, height, frames = (int(part) for part in row["size"].split("×"))
    # The model scales with frame area at the default frame count (MemoryNeeds.scaled).
    assert frames == preset.default_frames, "measured at another frame count"
    needs = preset.memory_at(width, height)
    predicted = peak_gb(profile, needs, vae_tiling=tiling, fp8=False)
    measured = row["peak_gb"]
    assert predicted >= measured, f"under-predicted: {predicted:.2f} < {measured:.2f} GiB"
    assert predicted <= MAX_RATIO * measured + SLACK_GB, (
        f"over-predicted: {predicted:.2f} GiB for {measured:.2f} measured"
    )


def test_rows_are_mapped_to_the_plans_they_ran():
    assert plan_of({"profile": "gpu", "peak_gb": 1.0}) == (MemoryProfile.GPU, False)
    assert plan_of({"profile": "group_offload_leaf + vae tiling", "peak_gb": 1.0}) == (
        MemoryProfile.GROUP_LEAF,
        True,
    )
    assert plan_of({"profile": "warm job (gpu)", "peak_gb": 1.0}) == (MemoryProfile.GPU, False)
    assert plan_of({"profile": "plain diffusers (all on GPU)", "peak_gb": 1.0}) == (
        MemoryProfile.GPU,
        False,
    )
    assert plan_of({"profile": "gpu", "note": "OOM: CUDA out of memory"}) is None
    assert plan_of({"profile": "cpu", "peak_gb": 0.0}) is None
    with pytest.raises(ValueError):
        plan_of({"profile": "fancy new profile", "peak_gb": 1.0})


def test_needs_scale_with_frame_area_and_keep_their_weights():
    preset = get_preset("wan2.1-t2v-14b")
    assert preset.memory_at(preset.default_width, preset.default_height) == preset.memory
    small = preset.memory_at(832, 480)
    ratio = 832 * 480 / (1280 * 720)
    assert small.weights_gb == preset.memory.weights_gb
    assert small.activation_gb == pytest.approx(preset.memory.activation_gb * ratio)
    assert small.decode_gb == pytest.approx(preset.memory.decode_gb * ratio)
    # The 480p figures agree with the 480p presets', which were measured at that size.
    assert small.decode_gb == pytest.approx(get_preset("wan2.1-t2v-1.3b").memory.decode_gb, 0.02)
