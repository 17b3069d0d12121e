"""Which presets a GPU worker takes, by its memory under the memory plan."""

from worker.capacity import capacity_on_gpu
from worker.catalogue import CATALOGUE
from worker.runtime.memory import GpuMemory, MemoryProfile, plan_for


def _profile(preset_id: str, total_gb: float) -> MemoryProfile:
    return plan_for(CATALOGUE[preset_id], GpuMemory(total_gb, total_gb)).profile


def test_a_big_gpu_takes_every_preset_at_full_speed():
    capacity = capacity_on_gpu(CATALOGUE.values(), 141.0)
    assert capacity.presets == frozenset(CATALOGUE)
    assert capacity.reluctant == frozenset()


def test_a_small_gpu_leaves_what_does_not_fit_and_hesitates_over_sequential_offload():
    small = 5.0  # group offload fits some presets, others only stream every layer
    capacity = capacity_on_gpu(CATALOGUE.values(), small)
    assert "tiny" in capacity.presets
    for preset_id in CATALOGUE:
        if preset_id not in capacity.presets:
            continue
        slow = _profile(preset_id, small) == MemoryProfile.SEQUENTIAL
        assert (preset_id in capacity.reluctant) == slow
    assert capacity.presets != frozenset(CATALOGUE)  # some need more than 4 GB in any plan
    assert capacity.reluctant  # and some only fit by streaming every layer
    assert capacity.gpu_total_gb == small
