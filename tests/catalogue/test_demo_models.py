"""The built-in demo models: on a machine with no downloaded weights every task the studio and
the edit studio offer has a model (each labelled as noise-making), every helper purpose has a
demo helper, real installed helpers win over demo ones, and FRAMECRAFT_DEMO_MODELS=0 takes
every built-in model away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from generation.availability import TASK_RULES, can_run, installed_presets, offer
from worker.catalogue import (
    CATALOGUE,
    HELPERS,
    ErrorCode,
    GenerationError,
    GenerationRequest,
    build_pipeline,
    check_inputs,
    get_preset,
    helper_for,
)
from worker.catalogue.helpers import PURPOSE_LABELS, save_helper
from worker.catalogue.install import DEMO_MODELS_ENV, demo_models_enabled
from worker.catalogue.lora_targets import lora_bases

ROOT = Path(__file__).resolve().parents[2]
DEMO_PRESETS = {"demo-i2v", "demo-flf2v", "demo-vace", "demo-ltx", "demo-ltx2"}
DEMO_HELPERS = {"demo-sam2", "demo-segformer", "demo-depth", "demo-rtdetr", "demo-vitpose",
                "demo-swin2sr", "demo-qwen"}


def test_every_studio_task_has_a_model_on_an_empty_machine():
    for task in TASK_RULES:
        assert can_run(task), task
        assert all(preset.builtin for preset in installed_presets(task)), task
    # The tasks the demo presets are there for, each served by the one meant for it.
    assert [p.id for p in installed_presets("i2v")] == ["demo-i2v", "demo-flf2v", "demo-ltx",
                                                        "demo-ltx2"]
    for task in ("edit", "reframe", "swap", "personalize", "control"):
        assert [p.id for p in installed_presets(task)] == ["demo-vace"], task
    assert [p.id for p in installed_presets("extend")] == ["demo-vace", "demo-ltx"]
    # tiny, and LTX-2's demo for a video with sound.
    assert [p.id for p in installed_presets("t2v")] == ["tiny", "demo-ltx2"]


def test_demo_presets_say_what_they_are_and_stay_small():
    demos = {p.id for p in CATALOGUE.values() if p.builtin and p.id.startswith("demo-")}
    assert demos == DEMO_PRESETS
    for preset_id in DEMO_PRESETS:
        preset = get_preset(preset_id)
        assert preset.source is None and preset.is_installed()
        assert preset.label.startswith("Demo · ") and "noise-like output" in preset.label
        assert preset.default_width * preset.default_height <= 128 * 128
        assert preset.default_frames <= 17 and preset.default_steps <= 4
        assert preset_id not in lora_bases()  # LoRAs are tried on tiny
    ltx = get_preset("demo-ltx")
    assert ltx.max_keyframes > 0 and ltx.keyframe_frames(17) == (8, 16)
    assert get_preset("demo-flf2v").requires_end_image


@pytest.mark.parametrize("preset_id", sorted(DEMO_PRESETS))
def test_each_demo_preset_builds_as_its_familys_pipeline(preset_id: str):
    pipeline = build_pipeline(preset_id, "tiny", seed=0)
    assert type(pipeline).__name__ == get_preset(preset_id).pipeline_class
    parameters = sum(p.numel() for name in ("transformer", "vae", "text_encoder")
                     for p in getattr(pipeline, name).parameters())
    assert parameters < 5_000_000  # built in a second, on any CPU


def test_every_helper_purpose_has_a_demo_helper_used_until_a_real_one_is_installed(
        offline_model_store: Path):
    demos = {h.id for h in HELPERS.values() if h.builtin}
    assert demos == DEMO_HELPERS
    for purpose in PURPOSE_LABELS:
        helper = helper_for(purpose)  # type: ignore[arg-type]
        assert helper.builtin and helper.is_installed() and helper.installed_path() is None
        assert helper.label.startswith("Demo · ")
    save_helper("depth-anything-v2-small", offline_model_store / "depth-anything-v2-small")
    assert helper_for("depth").id == "depth-anything-v2-small"
    assert helper_for("pose").id == "demo-vitpose"


def test_turned_off_no_built_in_model_is_offered(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(DEMO_MODELS_ENV, "off")
    assert not demo_models_enabled()
    assert not any(p.is_installed() for p in CATALOGUE.values() if p.builtin)
    assert not any(h.is_installed() for h in HELPERS.values())
    for task in TASK_RULES:
        assert not can_run(task), task
        # What is missing is named as the real model an admin would install.
        assert offer(task, task).needs is not None and not offer(task, task).needs.builtin
    for purpose in PURPOSE_LABELS:
        assert not helper_for(purpose).builtin  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "enabled"), [
    ("", True), ("1", True), ("yes", True), (" On ", True), ("0", False), ("false", False),
    ("no", False)])
def test_the_setting_reads_the_words_every_boolean_setting_reads(
        monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool):
    monkeypatch.setenv(DEMO_MODELS_ENV, value)
    assert demo_models_enabled() is enabled


def test_a_malformed_setting_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(DEMO_MODELS_ENV, "maybe")
    with pytest.raises(ValueError, match="FRAMECRAFT_DEMO_MODELS='maybe' is malformed"):
        get_preset("tiny").is_installed()


def test_start_up_refuses_a_malformed_setting():
    env = {**os.environ, DEMO_MODELS_ENV: "maybe"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "FRAMECRAFT_DEMO_MODELS='maybe' is malformed" in result.stderr


def test_production_compose_files_turn_the_demo_models_off():
    for name in ("compose.yaml", "gpu-host.yaml"):
        text = (ROOT / "docker" / name).read_text()
        assert "FRAMECRAFT_DEMO_MODELS: ${FRAMECRAFT_DEMO_MODELS:-0}" in text, name


def test_a_worker_with_demo_models_off_refuses_a_built_in_preset(
        monkeypatch: pytest.MonkeyPatch):
    from worker.runtime.cache import load_pipeline

    monkeypatch.setenv(DEMO_MODELS_ENV, "0")
    with pytest.raises(GenerationError) as refused:
        load_pipeline("demo-vace")
    assert refused.value.code == ErrorCode.WEIGHTS_MISSING
    assert "demo models are turned off on this worker" in refused.value.message


def test_a_swap_is_an_edit_that_takes_reference_images():
    # Found by running a swap on the worker: the edit's references were refused.
    frames = np.zeros((5, 96, 160, 3), np.uint8)
    mask = np.full((5, 96, 160), 255, np.uint8)
    photo = np.full((40, 30, 3), 200, np.uint8)
    request = GenerationRequest(preset_id="demo-vace", task="edit", prompt="Rex walks in",
                                negative_prompt="", width=160, height=96, num_frames=5,
                                steps=2, guidance=5.0, seed=1, video=frames, mask=mask,
                                reference_images=(photo,))
    check_inputs(get_preset("demo-vace"), request)  # accepted
    with pytest.raises(GenerationError, match="does not take: reference_images"):
        check_inputs(get_preset("tiny"), GenerationRequest(
            **{**request.__dict__, "preset_id": "tiny", "task": "v2v", "mask": None}))


@pytest.mark.django_db
def test_the_studios_offer_the_demo_models_only_while_they_are_on(owner_client, monkeypatch):
    pages = [reverse("generation_form") + f"?task={task}" for task in TASK_RULES]
    offered = "".join(owner_client.get(page).content.decode() for page in pages)
    for preset_id in ("tiny", *DEMO_PRESETS):
        assert f'value="{preset_id}"' in offered, preset_id
    monkeypatch.setenv(DEMO_MODELS_ENV, "0")
    offered = "".join(owner_client.get(page).content.decode() for page in pages)
    for preset_id in ("tiny", *DEMO_PRESETS):
        assert f'value="{preset_id}"' not in offered, preset_id
    assert "Demo · " not in offered
