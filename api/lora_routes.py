"""LoRAs: upload (read by its header alone and checked against the model it was made for, by
the studio's own form and `accept_lora`), list, read, rename, delete. Owner only: anyone else
gets 404."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Router, Status

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, ApiError, form_refused, not_found
from api.media_routes import check_upload_rate
from api.present import lora_out
from api.schemas import LoraChange, LoraOut, Problem
from generation.lora_views import LoraUploadForm
from generation.loras import (
    MAX_NAME,
    accept_lora,
    delete_lora,
    lora_too_large_message,
    max_lora_bytes,
    rename_lora,
)
from generation.models import Lora, LoraPurpose
from generation.uploads import SizeLimitHandler, UploadRefused
from worker.catalogue.lora_targets import lora_presets

router = Router(tags=["loras"])


def _multipart() -> dict[str, object]:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "a .safetensors LoRA"},
            "name": {"type": "string", "maxLength": MAX_NAME,
                     "description": "empty: the file's name"},
            "purpose": {"type": "string", "enum": list(LoraPurpose.values),
                        "default": LoraPurpose.STYLE.value},
            "base": {"type": "string", "enum": ["", *lora_presets()], "default": "",
                     "description": "the preset it was trained for; empty: found from the "
                                    "file"}}}}}}}


def owned_lora(user: User, lora_id: uuid.UUID) -> Lora:
    lora = Lora.objects.select_related("upload").filter(pk=lora_id, owner=user).first()
    if lora is None:
        raise not_found("LoRA")
    return lora


@router.get("/loras", response={200: list[LoraOut], **ERRORS}, url_name="loras_list",
            summary="Your LoRAs, by name")
def list_loras(request: HttpRequest) -> list[LoraOut]:
    return [lora_out(lora) for lora in
            Lora.objects.filter(owner=caller(request)).select_related("upload")]


@router.post("/loras", response={201: LoraOut, 413: Problem, **ERRORS}, url_name="loras_create",
             openapi_extra=_multipart(),
             summary="Upload a LoRA (multipart: `file`, `name`, `purpose`, `base`)",
             description="Read by its header alone (never unpickled) and checked layer by "
                         "layer and shape by shape against the model it was made for; one for "
                         "another model is refused with a message naming it. Up to "
                         "FRAMECRAFT_MAX_LORA_MB, within your storage quota.")
def create_lora(request: HttpRequest) -> Status[LoraOut]:
    user = caller(request)
    # Before the body is parsed: stop reading the file at the LoRA size limit.
    request.upload_handlers.insert(0, SizeLimitHandler(request, max_lora_bytes()))
    check_upload_rate(request)
    data = request.POST.copy()
    file = request.FILES.get("file")
    if getattr(request, "upload_too_large", False):
        raise ApiError(413, "too_large", lora_too_large_message(),
                       {"file": lora_too_large_message()})
    if file is None:
        raise ApiError(422, "invalid", "Send the LoRA as the multipart field `file`.",
                       {"file": "Missing."})
    try:
        if not data.get("purpose"):
            data["purpose"] = LoraPurpose.STYLE.value
        form = LoraUploadForm(data, request.FILES)
        if not form.is_valid():
            raise form_refused(form, "invalid")
        lora = accept_lora(user, file, name=form.cleaned_data["name"],
                           purpose=form.cleaned_data["purpose"],
                           base=form.cleaned_data["base"] or None)
    except UploadRefused as refused:
        raise ApiError(422, "lora_refused", refused.message, {"file": refused.message}
                       ) from None
    finally:
        file.close()
    return Status(201, lora_out(lora))


@router.get("/loras/{lora_id}", response={200: LoraOut, **ERRORS}, url_name="lora_detail",
            summary="Get a LoRA: what it was made for and which models it fits")
def get_lora(request: HttpRequest, lora_id: uuid.UUID) -> LoraOut:
    return lora_out(owned_lora(caller(request), lora_id))


@router.patch("/loras/{lora_id}", response={200: LoraOut, **ERRORS}, url_name="lora_rename",
              summary="Rename a LoRA", description="Jobs keep the name it had when they ran.")
def rename(request: HttpRequest, lora_id: uuid.UUID, body: LoraChange) -> LoraOut:
    lora = owned_lora(caller(request), lora_id)
    try:
        rename_lora(lora, body.name)
    except UploadRefused as refused:
        raise ApiError(422, "invalid", refused.message, {"name": refused.message}) from None
    return lora_out(lora)


@router.delete("/loras/{lora_id}", response={204: None, **ERRORS}, url_name="lora_delete",
               summary="Delete a LoRA and its file",
               description="Videos made with it keep its name in their recipes; a retry of "
                           "a job that used it is refused.")
def delete(request: HttpRequest, lora_id: uuid.UUID) -> Status[None]:
    delete_lora(owned_lora(caller(request), lora_id))
    return Status(204, None)
