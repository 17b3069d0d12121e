"""My LoRAs: upload (checked against the base model it is for), list, rename and delete a
user's LoRAs. Owner only: a stranger gets 404."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from generation.loras import (
    MAX_NAME,
    accept_lora,
    lora_too_large_message,
    max_lora_bytes,
)
from generation.loras import delete_lora as remove
from generation.loras import rename_lora as rename
from generation.models import Lora, LoraPurpose
from generation.uploads import RATE_LIMITED, SizeLimitHandler, UploadRefused, storage_use
from webapp.http import SignedInRequest
from worker.catalogue import CATALOGUE
from worker.catalogue.lora_targets import lora_presets


def owned_lora(request: HttpRequest, lora_id: str) -> Lora:
    return get_object_or_404(Lora, pk=lora_id, owner=request.user)


class LoraUploadForm(forms.Form):
    file = forms.FileField(label="LoRA file (.safetensors)", widget=forms.ClearableFileInput(
        attrs={"accept": ".safetensors"}))
    name = forms.CharField(max_length=MAX_NAME, required=False,
                           help_text="Leave empty to use the file's name.")
    purpose = forms.ChoiceField(label="It is for", choices=LoraPurpose.choices,
                                initial=LoraPurpose.STYLE)
    base = forms.ChoiceField(label="Base model", required=False,
                             help_text="The model it was trained on; leave it to be found "
                                       "from the file.")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["base"].choices = [("", "Find it from the file")] + [  # type: ignore[attr-defined]
            (preset_id, CATALOGUE[preset_id].label) for preset_id in lora_presets()]


def _page(request: SignedInRequest, form: LoraUploadForm | None = None, status: int = 200,
          error: str = "") -> HttpResponse:
    return render(request, "loras/loras.html", {
        "loras": Lora.objects.filter(owner=request.user), "form": form or LoraUploadForm(),
        **storage_use(request.user), "error": error,
    }, status=status)


@csrf_exempt  # checked just below, once the size-limiting handler is in place
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def loras(request: SignedInRequest) -> HttpResponseBase:
    if request.method == "POST":
        request.upload_handlers.insert(0, SizeLimitHandler(request, max_lora_bytes()))
        return _create(request)
    return _page(request)


@csrf_protect
@ratelimit(key="user", rate=lambda group, request: settings.FRAMECRAFT_UPLOAD_RATE,
           method="POST", block=False)
def _create(request: SignedInRequest) -> HttpResponse:
    form = LoraUploadForm(request.POST, request.FILES)
    error = ""
    if getattr(request, "limited", False):
        error = RATE_LIMITED
    elif getattr(request, "upload_too_large", False):
        error = lora_too_large_message()
    elif not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    else:
        file = form.cleaned_data["file"]
        try:
            lora = accept_lora(request.user, file, name=form.cleaned_data["name"],
                               purpose=form.cleaned_data["purpose"],
                               base=form.cleaned_data["base"] or None)
        except UploadRefused as refusal:
            error = refusal.message
        finally:
            file.close()
    if error:
        if request.htmx:
            return render(request, "loras/partials/upload_form.html",
                          {"form": form, "error": error}, status=422)
        return _page(request, form, status=422, error=error)
    if request.htmx:  # a fresh form, and the new LoRA's card added to the list
        return render(request, "loras/partials/upload_form.html",
                      {"form": LoraUploadForm(), "added": lora})
    messages.success(request, f"Added the LoRA “{lora}”.")
    return redirect("loras")


@login_required
@require_POST
def rename_lora(request: SignedInRequest, lora_id: str) -> HttpResponse:
    lora = owned_lora(request, lora_id)
    error = ""
    try:
        rename(lora, request.POST.get("name", ""))
    except UploadRefused as refused:
        error = refused.message
    if request.htmx:
        return render(request, "loras/partials/lora_card.html",
                      {"lora": lora, "error": error}, status=422 if error else 200)
    if error:
        messages.error(request, error)
    return redirect("loras")


@login_required
@require_POST
def delete_lora(request: SignedInRequest, lora_id: str) -> HttpResponse:
    lora = owned_lora(request, lora_id)
    remove(lora)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, f"Deleted the LoRA “{lora}”.")
    return redirect("loras")
