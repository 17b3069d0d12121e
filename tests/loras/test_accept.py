"""Accepting a LoRA: read by its safetensors header only, checked against its base model,
stored in the storage quota; a refusal leaves nothing behind."""

from __future__ import annotations

import json
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.loras import MAX_HEADER_BYTES, accept_lora
from generation.models import Lora, Upload
from generation.uploads import UploadRefused, uploads_bytes
from tests.loras.conftest import stored_files
from tests.loras.files import lora_bytes, with_header_length

pytestmark = pytest.mark.django_db


def _file(data: bytes, name: str = "style.safetensors") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def _refused(owner, data: bytes, base: str | None = "tiny", media_root=None) -> str:
    with pytest.raises(UploadRefused) as refused:
        accept_lora(owner, _file(data), name="x", purpose="style", base=base)
    assert not Upload.objects.exists() and not Lora.objects.exists()
    if media_root is not None:
        assert stored_files(media_root) == []
    return refused.value.message


def test_a_lora_for_the_tiny_model_is_stored_in_the_quota(owner, media_root):
    data = lora_bytes("tiny", rank=4)
    lora = accept_lora(owner, _file(data), name="  Paper  cut ", purpose="style", base="tiny")
    assert (lora.name, lora.base, lora.fits, lora.rank, lora.layer_count) == (
        "Paper cut", "tiny", ["tiny"], 4, 20)
    assert lora.key_format == "diffusers" and lora.owner == owner
    assert lora.upload.kind == "lora" and lora.upload.size_bytes == len(data)
    assert lora.upload.file.read() == data
    assert uploads_bytes(owner) == len(data)
    assert [p.suffix for p in stored_files(media_root)] == [".safetensors"]


def test_the_base_is_found_from_the_file_when_not_given(owner, media_root):
    lora = accept_lora(owner, _file(lora_bytes("wan2.1-t2v-14b", rank=2, limit=3)),
                       name="big", purpose="subject")
    assert lora.base == "wan2.1-t2v-14b"
    # Wan 2.2 A14B's experts have Wan 2.1 14B's layers: its LoRAs fit them too.
    assert lora.fits == ["wan2.1-t2v-14b", "wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p",
                         "wan2.1-flf2v-14b-720p", "wan2.1-vace-14b", "wan2.2-t2v-a14b",
                         "wan2.2-i2v-a14b"]


def test_a_lora_for_another_architecture_is_refused_naming_what_it_is_for(owner, media_root):
    message = _refused(owner, lora_bytes("wan2.1-t2v-14b", rank=2, limit=2),
                       base="wan2.1-t2v-1.3b", media_root=media_root)
    assert message.startswith("This LoRA is for Wan 2.1 14B, not Wan 2.1 1.3B:")
    message = _refused(owner, lora_bytes("ltx-video", rank=2, limit=2,
                                         choose=lambda n: n.startswith("transformer_")))
    assert message.startswith("This LoRA is for LTX-Video 2B, not the tiny test model:")


@pytest.mark.parametrize(("data", "says"), [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "does not start the way a .safetensors file does"),
    (b"abc", "not a safetensors file"),
    (struct.pack("<Q", 2**40) + b"{}", "Check that you chose the right file"),
    (struct.pack("<Q", 500) + b'{"a": 1}', "truncated: its header runs past"),
    (struct.pack("<Q", 5) + b"{nope", "not a safetensors file"),
], ids=["png", "tiny", "huge-header", "truncated-header", "bad-json"])
def test_files_that_are_not_safetensors_are_refused(owner, media_root, data, says):
    assert says in _refused(owner, data, media_root=media_root)


def test_a_renamed_file_is_refused_in_plain_words(owner, media_root):
    message = _refused(owner, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, media_root=media_root)
    assert "header" not in message and not any(c.isdigit() for c in message)


def test_a_header_over_the_limit_is_refused_before_it_is_read(owner, media_root):
    data = lora_bytes("tiny")
    assert "not a LoRA we can read" in _refused(owner,
                                                with_header_length(data, MAX_HEADER_BYTES + 1))


def test_tensor_data_cut_short_is_refused(owner, media_root):
    assert "truncated: its tensors run past" in _refused(owner, lora_bytes("tiny")[:-10])


def test_tensor_ranges_that_lie_are_refused(owner, media_root):
    header = {"transformer.blocks.0.attn1.to_q.lora_A.weight": {
        "dtype": "F32", "shape": [4, 24], "data_offsets": [0, 8]}}
    raw = json.dumps(header).encode()
    data = struct.pack("<Q", len(raw)) + raw + b"\0" * 8
    assert "described wrongly" in _refused(owner, data)


def test_duplicate_tensor_names_are_refused(owner, media_root):
    raw = (b'{"a.lora_A.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
           b' "a.lora_A.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')
    assert "not a safetensors file" in _refused(owner, struct.pack("<Q", len(raw)) + raw
                                                + b"\0" * 4)


def test_a_lora_over_the_storage_quota_is_refused(owner, media_root):
    data = lora_bytes("tiny")
    owner.storage_quota_mb = 0
    owner.save()
    assert "does not fit in your storage" in _refused(owner, data, media_root=media_root)


def test_names_are_unique_per_owner(owner, stranger, media_root):
    accept_lora(owner, _file(lora_bytes("tiny")), name="ink", purpose="style")
    with pytest.raises(UploadRefused, match="already have a LoRA called “ink”"):
        accept_lora(owner, _file(lora_bytes("tiny")), name="ink", purpose="style")
    assert Lora.objects.count() == 1 and len(stored_files(media_root)) == 1
    accept_lora(stranger, _file(lora_bytes("tiny")), name="ink", purpose="style")
    assert Lora.objects.count() == 2
