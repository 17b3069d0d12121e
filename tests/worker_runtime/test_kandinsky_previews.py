"""Live previews of the Kandinsky families: their pipelines keep latents channels last
(Kandinsky 5's with its conditioning channels and mask after them), and each step hands the
preview the picture's latents channels first, (B, C, F, H, W), so the preview shows a frame
rather than a slice across frames."""

from __future__ import annotations

import pytest

from tests.worker_runtime.test_runtime_checkpoints import SIDE, _request, installed  # noqa: F401
from worker.catalogue import CATALOGUE, StepInfo, Task
from worker.runtime.cache import PipelineCache
from worker.runtime.runner import run_generation


@pytest.mark.parametrize(("preset_id", "task", "frames"), [
    ("kandinsky5-lite-t2v", Task.T2V, 2),
    ("kandinsky6-lite", Task.T2V, 2),
    ("kandinsky6-lite", Task.I2V, 3),  # the start image rides along as a tail frame
])
def test_each_step_hands_the_preview_channels_first_latents(preset_id, task, frames,
                                                             installed):  # noqa: F811
    preset = CATALOGUE[preset_id]
    installed(preset)
    seen: list[StepInfo] = []
    run_generation(_request(preset, task), seen.append, PipelineCache(), decode=False)
    channels = 4  # the tiny HunyuanVideo VAE's latent channels
    shapes = [None if info.latents is None else tuple(info.latents.shape) for info in seen]
    assert shapes and set(shapes) == {(1, channels, frames, SIDE // 8, SIDE // 8)}, shapes
