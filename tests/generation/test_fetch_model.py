"""fetch_model: list, verify and remove checkpoints the tests make; downloads fail clearly on
an offline machine and refuse to start without the disk space (the Hub is unreachable here)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from worker.catalogue import build_pipeline, get_preset, weights

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
