from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.loras import accept_lora
from generation.models import Lora
from generation.presets import Preset
from tests.loras.files import lora_bytes

A14B = "wan2.2-t2v-a14b"
# The studio's settings of an A14B job at the preset's defaults.
A14B_FORM = {"preset": A14B, "size": "1280x720", "num_frames": "81", "steps": "40",
             "guidance": "4.0"}


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    """A media folder of the test's own, so 'nothing left behind' can be checked."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def a14b_offered(monkeypatch: pytest.MonkeyPatch, media_root: Path) -> None:
    """As if Wan 2.2 A14B's weights were on this machine (the web side only asks)."""
    original = Preset.is_installed
    monkeypatch.setattr(Preset, "is_installed",
                        lambda self: self.id == A14B or original(self))


@pytest.fixture
def a14b_lora(owner, media_root: Path) -> Lora:
    """A LoRA of the owner's that fits Wan 2.2 A14B's experts (made for Wan 2.1 14B, whose
    layers they have; two layers at rank 2 keep the file small)."""
    data = lora_bytes("wan2.1-t2v-14b", rank=2, limit=2)
    return accept_lora(owner, SimpleUploadedFile("lightning-low.safetensors", data),
                       name="lightning low", purpose="style")


@pytest.fixture
def tiny_lora(owner, media_root: Path) -> Lora:
    """A LoRA of the owner's for the tiny model (one transformer)."""
    return accept_lora(owner, SimpleUploadedFile("paper.safetensors", lora_bytes("tiny")),
                       name="paper", purpose="style")
