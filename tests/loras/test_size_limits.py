"""LoRAs have a size limit of their own (FRAMECRAFT_MAX_LORA_MB), above the uploads' one: the
request body ceiling lets a big LoRA reach its page only, and accept_lora holds to it."""

from __future__ import annotations

import asyncio

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.loras import accept_lora
from generation.models import Lora
from generation.uploads import UploadRefused
from tests.loras.files import lora_bytes
from webapp.body_limit import BodyLimit


def _status(path: str, length: int) -> int | None:
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        await receive()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(b"content-length", str(length).encode())]}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    return sent[0]["status"] if sent else None


def test_the_body_ceiling_is_higher_on_the_lora_page_only(settings):
    settings.FRAMECRAFT_MAX_UPLOAD_MB, settings.FRAMECRAFT_MAX_LORA_MB = 1, 8
    five_mb = 5 * 2**20
    assert _status("/uploads/", five_mb) == 413
    assert _status("/loras/", five_mb) is None  # passed on to the view
    assert _status("/loras/", 10 * 2**20) == 413  # 8 MB and the form around it


@pytest.mark.django_db
def test_a_lora_over_its_limit_is_refused(settings, owner, media_root):
    settings.FRAMECRAFT_MAX_LORA_MB = 1
    data = lora_bytes("wan2.1-t2v-1.3b", rank=64, limit=2)
    assert len(data) > 2**20
    with pytest.raises(UploadRefused, match="larger than the 1 MB limit for LoRAs"):
        accept_lora(owner,
                    SimpleUploadedFile("x.safetensors", data), name="x", purpose="style")
    assert not Lora.objects.exists()
