"""fetch_model: list, verify and remove checkpoints the tests make; downloads fail clearly on
an offline machine and refuse to start without the disk space (the Hub is unreachable here);
`--from` installs a folder or archive the tests make, and refuses a broken one whole."""

from __future__ import annotations

import shutil
import zipfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from worker.catalogue import HELPERS, INSTALLABLE, build_pipeline, get_preset, weights
from worker.catalogue.helpers import save_helper

WAN = "wan2.1-t2v-1.3b"



def _run(*args: str) -> str:
    out = StringIO()
    call_command("fetch_model", *args, stdout=out)
    return out.getvalue()


def test_list_shows_every_preset_and_what_is_installed(models):
    build_pipeline(WAN, "tiny").save_pretrained(models / WAN)
    listing = _run("--list")
    assert "tiny" in listing and "built in" in listing
    wan_line = next(line for line in listing.splitlines() if line.startswith(WAN))
    assert "installed" in wan_line and "not installed" not in wan_line
    assert "not installed" in next(
        line for line in listing.splitlines() if line.startswith("cogvideox-5b")
    )
    remover = next(line for line in listing.splitlines()
                   if line.startswith("segformer-b2-clothes"))
    assert "not installed" in remover and "background removal (subject photos)" in remover


def test_verify_passes_a_good_checkpoint_and_names_a_damaged_file(models):
    build_pipeline(WAN, "tiny").save_pretrained(models / WAN)
    assert "verify" in _run(WAN, "--verify")
    damaged = next((models / WAN / "transformer").glob("*.safetensors"))
    damaged.write_bytes(b"\x00" * 32)
    with pytest.raises(CommandError, match=r"transformer/.*unreadable"):
        _run(WAN, "--verify")


def test_remove_deletes_the_folder(models):
    build_pipeline(WAN, "tiny").save_pretrained(models / WAN)
    assert "Removed" in _run(WAN, "--remove")
    assert not (models / WAN).exists()
    assert not get_preset(WAN).is_installed()


def test_an_unreachable_hub_gives_a_clear_error_not_a_traceback(models):
    with pytest.raises(CommandError, match="Cannot reach the Hugging Face Hub at http://127"):
        _run(WAN)


def test_offline_mode_refuses_to_download(models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CommandError, match="HF_HUB_OFFLINE"):
        _run(WAN)


def test_a_download_bigger_than_the_free_disk_is_refused_before_it_starts(models):
    def huge(repo: str, patterns: list[str], subfolder: str | None) -> int:
        return 10**18

    with pytest.raises(weights.WeightsError, match="Not enough disk space"):
        weights.fetch(get_preset(WAN), size_lookup=huge, say=lambda line: None)
    assert not (models / WAN).exists()


def test_unknown_presets_and_built_ins(models):
    with pytest.raises(CommandError, match="unknown preset"):
        _run("nope")
    assert "built in" in _run("tiny")


# --- Offline install: `fetch_model <id> --from <folder or archive>` ---------------------------


def _nothing_half_installed(models) -> None:
    # No staging folder is left in the models folder, whatever happened.
    assert not [p.name for p in models.iterdir() if p.name.startswith(".install-")]


def test_a_folder_in_the_hubs_layout_installs_offline_and_loads(models, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    copied = tmp_path / "usb" / "Wan2.1-T2V-1.3B-Diffusers"
    build_pipeline(WAN, "tiny").save_pretrained(copied)
    out = _run(WAN, "--from", str(copied))
    assert out.strip().endswith(f"{WAN} installed at {models / WAN}.")
    assert get_preset(WAN).installed_path() == models / WAN
    assert weights.verify(get_preset(WAN)) == []
    assert copied.is_dir()  # copied, not moved: the operator's copy stays
    _nothing_half_installed(models)
    from worker.runtime.cache import load_pipeline

    assert type(load_pipeline(WAN).pipeline).__name__ == "WanPipeline"


@pytest.mark.parametrize("kind", ["gztar", "tar", "zip"])
def test_an_archive_installs_offline(models, tmp_path, kind):
    checkpoint = tmp_path / "export" / "wan-1.3b"
    build_pipeline(WAN, "tiny").save_pretrained(checkpoint)
    # The archive wraps the layout in one folder, as `tar czf wan.tar.gz wan-1.3b/` does.
    archive = shutil.make_archive(str(tmp_path / "wan"), kind, checkpoint.parent)
    _run(WAN, "--from", archive)
    assert get_preset(WAN).installed_path() == models / WAN
    assert (models / WAN / "model_index.json").is_file()
    _nothing_half_installed(models)


def test_an_incomplete_checkpoint_is_refused_and_nothing_is_installed(models, tmp_path):
    copied = tmp_path / "half"
    build_pipeline(WAN, "tiny").save_pretrained(copied)
    for weight in (copied / "transformer").glob("*.safetensors"):
        weight.unlink()
    shutil.rmtree(copied / "vae")
    with pytest.raises(CommandError) as refused:
        _run(WAN, "--from", str(copied))
    message = str(refused.value)
    assert "component transformer/ has no weight files" in message
    assert "component vae/ is missing" in message and "Nothing was installed" in message
    assert not (models / WAN).exists()
    _nothing_half_installed(models)


def test_a_damaged_weight_file_is_refused(models, tmp_path):
    copied = tmp_path / "damaged"
    build_pipeline(WAN, "tiny").save_pretrained(copied)
    next((copied / "transformer").glob("*.safetensors")).write_bytes(b"\x00" * 64)
    with pytest.raises(CommandError, match=r"transformer/.*\.safetensors is unreadable"):
        _run(WAN, "--from", str(copied))
    assert not (models / WAN).exists()


def test_weights_of_another_pipeline_class_are_refused(models, tmp_path):
    copied = tmp_path / "vace"
    build_pipeline("wan2.1-vace-1.3b", "tiny").save_pretrained(copied)
    with pytest.raises(CommandError,
                       match=r"model_index\.json is for WanVACEPipeline, not WanPipeline"):
        _run(WAN, "--from", str(copied))
    assert not (models / WAN).exists()


def test_a_helper_installs_from_a_folder_and_the_wrong_model_is_refused(models, tmp_path):
    save_helper("depth-anything-v2-small", tmp_path / "depth")
    _run("depth-anything-v2-small", "--from", str(tmp_path / "depth"))
    assert HELPERS["depth-anything-v2-small"].installed_path() == \
        models / "depth-anything-v2-small"
    save_helper("vitpose-base", tmp_path / "pose")
    with pytest.raises(CommandError, match=r"config\.json is for VitPoseForPoseEstimation, "
                                           "not SegformerForSemanticSegmentation"):
        _run("segformer-b2-clothes", "--from", str(tmp_path / "pose"))
    assert not (models / "segformer-b2-clothes").exists()


def test_a_broken_install_is_replaced_whole(models, tmp_path):
    (models / WAN / "transformer").mkdir(parents=True)  # an interrupted copy
    (models / WAN / "model_index.json").write_text("{")
    build_pipeline(WAN, "tiny").save_pretrained(tmp_path / "good")
    _run(WAN, "--from", str(tmp_path / "good"))
    assert weights.verify(get_preset(WAN)) == []
    _nothing_half_installed(models)


def test_an_archive_reaching_outside_itself_or_not_an_archive_is_refused(models, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../escaped.json", "{}")
    with pytest.raises(CommandError, match="holds a path outside itself"):
        _run(WAN, "--from", str(evil))
    assert not (tmp_path / "escaped.json").exists() and not (models / WAN).exists()
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(CommandError, match=r"neither a folder nor a \.tar"):
        _run(WAN, "--from", str(tmp_path / "weights.bin"))
    with pytest.raises(CommandError, match="tiny is built in"):
        _run("tiny", "--from", str(tmp_path))
    _nothing_half_installed(models)


def test_the_models_page_says_how_to_install_offline_and_which_demos_are_off(
        admin_client, models, monkeypatch):
    url = reverse("admin:generation_modeloperation_changelist")
    page = admin_client.get(url).content.decode()
    assert "fetch_model &lt;id&gt; --from &lt;folder or archive&gt;" in page
    assert "turned off" not in page
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")
    page = admin_client.get(url).content.decode()
    assert page.count("built in, turned off") == sum(
        1 for model in INSTALLABLE.values() if model.builtin)
