"""The catalogue: limits, validation, and whether weights are installed (never via network)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worker.catalogue import (
    CATALOGUE,
    FAMILIES,
    Ability,
    Task,
    build_pipeline,
    family_of,
    get_preset,
)

WAN_SMALL = "wan2.1-t2v-1.3b"


def test_catalogue_offers_tiny_and_wan_text_to_video():
    assert {"tiny", WAN_SMALL, "wan2.1-t2v-14b"} <= set(CATALOGUE)
    wan = get_preset(WAN_SMALL)
    assert wan.source == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    assert wan.pipeline_class == "WanPipeline"
    assert set(wan.sizes) == {(832, 480), (480, 832)}
    assert (wan.default_frames, wan.fps) == (81, 16)
    # A prompt, or a video restyled by the same weights (WanVideoToVideoPipeline).
    assert wan.abilities == {Ability.TEXT, Ability.VIDEO}
    assert wan.pipeline_class_for("v2v") == "WanVideoToVideoPipeline"


def test_tiny_says_it_is_a_random_model_and_is_cheap():
    tiny = get_preset("tiny")
    assert tiny.builtin and tiny.source is None
    assert "tiny random model" in tiny.label.lower()
    assert (tiny.default_width, tiny.default_height) == (128, 128)
    assert {(160, 96), (96, 160)} <= set(tiny.sizes)
    assert (tiny.default_frames, tiny.max_frames, tiny.default_steps) == (17, 33, 8)


@pytest.mark.parametrize("preset", CATALOGUE.values(), ids=CATALOGUE.keys())
def test_every_preset_accepts_its_own_defaults(preset):
    assert not preset.parameter_errors(
        width=preset.default_width,
        height=preset.default_height,
        num_frames=preset.default_frames,
        steps=preset.default_steps,
        guidance=preset.default_guidance,
    )
    assert preset.default_frames in preset.frame_choices()


def test_frames_must_be_one_more_than_a_multiple_of_the_frame_step():
    tiny = get_preset("tiny")
    assert tiny.frame_choices() == (5, 9, 13, 17, 21, 25, 29, 33)
    assert tiny.validate_frames(17)
    assert not tiny.validate_frames(16)
    assert not tiny.validate_frames(1)
    assert not tiny.validate_frames(37)


def test_parameter_errors_name_each_bad_field():
    errors = get_preset("tiny").parameter_errors(
        width=100, height=100, num_frames=16, steps=51, guidance=25.0
    )
    assert set(errors) == {"size", "num_frames", "steps", "guidance"}
    assert "128x128" in errors["size"]


def test_unknown_preset_raises_keyerror_listing_known_ones():
    with pytest.raises(KeyError, match=r"unknown preset 'nope'.*tiny"):
        get_preset("nope")


def test_tiny_is_always_installed():
    assert get_preset("tiny").is_installed()


def test_hub_preset_is_not_installed_with_empty_store():
    assert not get_preset(WAN_SMALL).is_installed()


def test_hub_preset_is_installed_from_the_models_folder(offline_model_store: Path):
    folder = offline_model_store / WAN_SMALL
    build_pipeline("tiny").save_pretrained(folder)
    assert get_preset(WAN_SMALL).installed_path() == folder
    assert get_preset(WAN_SMALL).is_installed()


def test_half_downloaded_checkpoint_is_not_installed(offline_model_store: Path):
    folder = offline_model_store / WAN_SMALL
    build_pipeline("tiny").save_pretrained(folder)
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()
    assert not get_preset(WAN_SMALL).is_installed()


def test_hub_preset_is_installed_from_the_hugging_face_cache(tmp_path: Path):
    # The layout huggingface_hub writes: refs/main names the snapshot folder.
    repo = tmp_path / "hf" / "hub" / "models--Wan-AI--Wan2.1-T2V-1.3B-Diffusers"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    snapshot = repo / "snapshots" / "0123abcd"
    build_pipeline("tiny").save_pretrained(snapshot)
    assert get_preset(WAN_SMALL).installed_path() == snapshot


def _run(code: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)


def test_catalogue_is_a_light_leaf():
    # The web image has no torch nor numpy: its forms read the catalogue. Every module of the
    # package is imported, builders and adapters included: they import torch when called.
    code = (
        "import pkgutil, sys\n"
        "import worker.catalogue\n"
        "for module in pkgutil.iter_modules(worker.catalogue.__path__):\n"
        "    __import__(f'worker.catalogue.{module.name}')\n"
        "top = {name.split('.')[0] for name in sys.modules}\n"
        "heavy = {'torch', 'diffusers', 'transformers', 'tokenizers', 'numpy', 'PIL',\n"
        "         'safetensors', 'django', 'generation', 'accounts', 'webapp'} & top\n"
        "inner = [name for name in sys.modules if name.startswith('worker.')\n"
        "         and not name.startswith('worker.catalogue')]\n"
        "assert not heavy and not inner, (heavy, inner)\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_upload_probing_imports_without_torch_or_django():
    result = _run(
        "import sys\n"
        "import worker.runtime.encode\n"
        "heavy = {'torch', 'diffusers', 'transformers', 'django'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert result.returncode == 0, result.stderr


def test_the_tiny_limits_line_names_every_size_it_offers():
    line = get_preset("tiny").limits_summary()
    assert line.startswith("128×128, 160×96 or 96×160; up to 33 frames (4.1 s at 8 fps)")
    assert "50 steps" in line


@pytest.mark.parametrize("preset", CATALOGUE.values(), ids=CATALOGUE.keys())
def test_every_limits_line_offers_exactly_the_presets_sizes(preset):
    offered = preset.limits_summary().split(";")[0]
    assert offered.replace(" or ", ", ").split(", ") == [f"{w}×{h}" for w, h in preset.sizes]


def test_every_preset_belongs_to_the_family_named_by_its_module():
    for name, family in FAMILIES.items():
        assert family.name == name
        assert all(family_of(preset) is family for preset in family.presets)
    assert list(CATALOGUE) == [p.id for family in FAMILIES.values() for p in family.presets]


def test_only_the_catalogue_registry_looks_families_up_by_name():
    # Family differences live in each family's module; nothing branches on a family's name.
    root = Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("worker", "generation", "accounts", "webapp", "bench")
        for path in sorted((root / package).rglob("*.py"))
        if path != root / "worker" / "catalogue" / "__init__.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ".family" in line or "family ==" in line
    ]
    assert not offenders


def test_the_first_last_frame_preset_is_the_i2v_720p_model_with_an_end_image():
    flf, i2v = get_preset("wan2.1-flf2v-14b-720p"), get_preset("wan2.1-i2v-14b-720p")
    assert flf.source == "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"
    assert flf.pipeline_class == "WanImageToVideoPipeline"
    assert flf.abilities == {Ability.TEXT, Ability.IMAGE, Ability.END_IMAGE}
    assert set(flf.tasks) == {Task.I2V}
    assert flf.memory == i2v.memory and set(flf.sizes) == set(i2v.sizes)
    assert family_of(flf.id).name == "wan_i2v"


def test_every_preset_that_takes_a_start_image_does_image_to_video():
    takes_image = {"wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p", "wan2.1-flf2v-14b-720p",
                   "wan2.2-ti2v-5b", "ltx-video", "hunyuanvideo-framepack"}
    for preset_id in takes_image:
        assert get_preset(preset_id).can(Task.I2V), preset_id
    ends = {p.id for p in CATALOGUE.values() if p.supports(Ability.END_IMAGE)}
    assert ends == {"wan2.1-flf2v-14b-720p", "hunyuanvideo-framepack", "demo-flf2v"}
