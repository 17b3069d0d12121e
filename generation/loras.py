"""Accepting a user's LoRA: a safetensors file read by its header alone (never unpickled, never
loaded), checked against the base model it is for, stored as an Upload in the storage quota.

`accept_lora` is the only way a Lora row comes to be. A refusal raises `UploadRefused` with a
sentence for the person and leaves no row and no file behind.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from accounts.models import User
from generation.models import Lora, LoraPurpose, Upload, UploadKind
from generation.text import text_problem
from generation.uploads import (
    UploadRefused,
    _check_quota,
    _display_name,
    _Probed,
    _store,
)
from worker.catalogue import CATALOGUE
from worker.catalogue.lora_targets import BASE_LABELS
from worker.catalogue.loras import (
    LoraRefused,
    fit_refusal,
    fitting_presets,
    metadata_alpha,
    read_layout,
)

# A LoRA's header names a few hundred tensors (tens of kB); safetensors itself allows 100 MB.
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_TENSORS = 20_000
MAX_NAME = 80
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
def max_lora_bytes() -> int:
    return int(settings.FRAMECRAFT_MAX_LORA_MB) * 1024 * 1024


def lora_too_large_message() -> str:
    return f"The file is larger than the {settings.FRAMECRAFT_MAX_LORA_MB} MB limit for LoRAs."


_NOT_SAFETENSORS = "This file is not a safetensors file: LoRAs are accepted as .safetensors only."


def accept_lora(user: User, file: UploadedFile, *, name: str, purpose: str,
                base: str | None = None) -> Lora:
    """Check `file` as a LoRA for the preset `base` (None: whichever it fits), store it and
    return the saved Lora."""
    name = " ".join(name.split())[:MAX_NAME] or _display_name(file).rsplit(".", 1)[0][:MAX_NAME]
    if not name:
        raise UploadRefused("Give the LoRA a name.")
    if purpose not in LoraPurpose.values:
        raise UploadRefused("Say whether the LoRA is for a subject or a style.")
    if base is not None and base not in CATALOGUE:
        raise UploadRefused(f"There is no model called {base!r}.")
    size = file.size or 0
    if size == 0:
        raise UploadRefused("The file is empty (0 bytes).")
    if size > max_lora_bytes():
        raise UploadRefused(lora_too_large_message())
    if Lora.objects.filter(owner=user, name=name).exists():
        raise UploadRefused(f"You already have a LoRA called “{name}”; choose another name.")
    _check_quota(user, size)
    header = read_header(file, size)
    try:
        layout = read_layout(_tensor_shapes(header),
                             metadata_alpha=metadata_alpha(header.get("__metadata__", {})))
    except LoraRefused as refused:
        raise UploadRefused(refused.message) from None
    if refusal := fit_refusal(layout, base):
        raise UploadRefused(refusal)
    fits = fitting_presets(layout)
    probed = _Probed(UploadKind.LORA, file, ".safetensors", None, 0, 0, metadata={
        "format": layout.format, "rank": layout.rank, "layers": len(layout.layers),
        "tensors": len(header) - ("__metadata__" in header),
    })

    def describe(upload: Upload) -> Lora:
        return Lora.objects.create(upload=upload, owner=user, name=name, purpose=purpose,
                                   base=base or fits[0], fits=fits, rank=layout.rank,
                                   layer_count=len(layout.layers), key_format=layout.format)

    try:
        upload = _store(user, file, probed, also=describe)
    except IntegrityError:  # the same name, chosen at the same moment in another request
        raise UploadRefused(f"You already have a LoRA called “{name}”; choose another name.") \
            from None
    return upload.lora


def rename_lora(lora: Lora, name: str) -> None:
    """Give the LoRA another name (spaces collapsed); refused with UploadRefused's sentence.
    Jobs keep the name it had when they ran."""
    name = " ".join(name.split())
    taken = f"You already have a LoRA called “{name}”."
    if not name or len(name) > MAX_NAME:
        raise UploadRefused(f"A name has 1 to {MAX_NAME} characters.")
    if problem := text_problem(name):
        raise UploadRefused(problem)
    if Lora.objects.filter(owner_id=lora.owner_id, name=name).exclude(pk=lora.pk).exists():
        raise UploadRefused(taken)
    try:
        with transaction.atomic():
            Lora.objects.filter(pk=lora.pk).update(name=name)
    except IntegrityError:  # the same name, chosen at the same moment in another request
        raise UploadRefused(taken) from None
    lora.name = name


def delete_lora(lora: Lora) -> None:
    """The upload goes with it (and its file, once committed); jobs keep their rows and
    videos their recipes."""
    lora.upload.delete()


def read_header(stream: IO[bytes], size: int) -> dict[str, Any]:
    """The safetensors header, checked: its length within our limit and the file, valid JSON
    with unique names, each tensor's dtype, shape and byte range consistent, and the ranges
    tiling the data exactly (as the safetensors library checks before it maps a file)."""
    stream.seek(0)
    head = stream.read(8)
    if len(head) < 8:
        raise UploadRefused(_NOT_SAFETENSORS)
    (length,) = struct.unpack("<Q", head)
    if length > MAX_HEADER_BYTES:
        # Usually another kind of file renamed .safetensors: its first bytes, read as the
        # header's length, make a huge number. Say that, not the number.
        raise UploadRefused("This file is not a LoRA we can read: it does not start the way a "
                            ".safetensors file does. Check that you chose the right file.")
    if 8 + length > size:
        raise UploadRefused("This file is truncated: its header runs past the end of the file.")
    raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique)
    except (UnicodeDecodeError, ValueError):
        raise UploadRefused(_NOT_SAFETENSORS) from None
    if not isinstance(header, dict) or not header:
        raise UploadRefused(_NOT_SAFETENSORS)
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise UploadRefused("This file's metadata is malformed.")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if len(tensors) > MAX_TENSORS:
        raise UploadRefused(f"This file holds {len(tensors):,} tensors; a LoRA holds far fewer.")
    spans = sorted(_span(name, entry) for name, entry in tensors.items())
    data = size - 8 - length
    end = 0
    for begin, stop in spans:
        if begin != end:
            raise UploadRefused("This file's tensors overlap or leave gaps; it is damaged.")
        end = stop
    if end > data:
        raise UploadRefused("This file is truncated: its tensors run past the end of the file.")
    if end < data:
        raise UploadRefused("This file has bytes past its last tensor; it is damaged.")
    return header


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    if any(n > 1 for n in counts.values()):
        raise ValueError("duplicate keys")
    return dict(pairs)


def _span(name: str, entry: Any) -> tuple[int, int]:
    bad = UploadRefused(f"The tensor {name[:80]} is described wrongly in the header; the file "
                        "is damaged.")
    if not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BYTES:
        raise bad
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)
            and isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise bad
    count = 1
    for dim in shape:
        count *= dim
    if offsets[1] - offsets[0] != count * DTYPE_BYTES[entry["dtype"]]:
        raise bad
    return offsets[0], offsets[1]


def _tensor_shapes(header: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {name: (entry["dtype"], tuple(entry["shape"]))
            for name, entry in header.items() if name != "__metadata__"}


def base_label(preset_id: str) -> str:
    return BASE_LABELS.get(preset_id, preset_id)


def compatible_loras(user: User, preset_id: str) -> list[Lora]:
    """The user's LoRAs that fit this preset (a user has few: filtered here, so that SQLite,
    which cannot search JSON lists, works as PostgreSQL does)."""
    return [lora for lora in Lora.objects.filter(owner=user) if preset_id in lora.fits]
