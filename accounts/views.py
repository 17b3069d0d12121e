from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import api_keys
from accounts.forms import ProfileForm
from accounts.models import ApiKey, User
from accounts.profile_sections import sections_context
from accounts.usage import usage_for
from webapp.http import SignedInRequest


def keys_context(user: User) -> dict[str, Any]:
    return {"api_keys": ApiKey.objects.filter(owner=user)}


def profile_page(request: SignedInRequest, form: ProfileForm | None = None,
                 status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    return render(request, "accounts/profile.html", {
        "form": form or ProfileForm(instance=user), "usage": usage_for(user),
        **keys_context(user), **sections_context(user), **extra}, status=status)


@login_required
def profile(request: SignedInRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return profile_page(request, form)


def _keys(request: SignedInRequest, status: int = 200, **extra: Any) -> HttpResponse:
    if not request.htmx:
        return profile_page(request, status=status, **extra)
    return render(request, "accounts/partials/api_keys.html",
                  {**keys_context(request.user), **extra}, status=status)


@login_required
@require_POST
def create_api_key(request: SignedInRequest) -> HttpResponse:
    try:
        new = api_keys.create_key(request.user, request.POST.get("name", ""))
    except api_keys.KeyRefused as refused:
        return _keys(request, status=422, key_error=str(refused))
    return _keys(request, new_key=new)


@login_required
@require_POST
def revoke_api_key(request: SignedInRequest, key_id: int) -> HttpResponse:
    api_keys.revoke(get_object_or_404(ApiKey, pk=key_id, owner=request.user))
    return _keys(request)
