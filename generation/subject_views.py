"""Subject pages: list, create, edit, delete, the before/after view of each photo, and grants.
Every route looks the subject up through its owner: anyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from generation import subjects
from generation.models import CutoutStatus, Subject, SubjectGrant, SubjectPhoto
from generation.subject_forms import SubjectForm, accept_photos
from generation.subjects import MAX_PHOTOS, SubjectRefused, with_photos
from webapp.http import SignedInRequest


def owned_subject(request: SignedInRequest, subject_id: str) -> Subject:
    return get_object_or_404(with_photos(Subject.objects.filter(owner=request.user)),
                             pk=subject_id)


def _photo(subject: Subject, photo_id: int) -> SubjectPhoto:
    return get_object_or_404(SubjectPhoto, pk=photo_id, subject=subject)


def _detail(request: SignedInRequest, subject: Subject, form: SubjectForm | None = None,
            status: int = 200, grant_error: str = "") -> HttpResponse:
    return render(request, "subjects/detail.html", {
        "subject": subject, "form": form or SubjectForm(owner=request.user, subject=subject),
        "grants": subject.grants.select_related("user"), "grant_error": grant_error,
        "max_photos": MAX_PHOTOS, "polling": _pending(subject),
    }, status=status)


def _pending(subject: Subject) -> bool:
    return any(p.cutout_status == CutoutStatus.PENDING for p in subject.photos.all())


@login_required
@require_safe
def subject_list(request: SignedInRequest) -> HttpResponse:
    own = with_photos(Subject.objects.filter(owner=request.user))
    granted = Subject.objects.filter(grants__user=request.user).select_related("owner")
    return render(request, "subjects/list.html", {"subjects": own, "granted": granted})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def new_subject(request: SignedInRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "subjects/new.html", {
            "form": SubjectForm(owner=request.user), "max_photos": MAX_PHOTOS})
    form = SubjectForm(request.POST, request.FILES, owner=request.user)
    if not form.is_valid() or not accept_photos(form):
        return render(request, "subjects/new.html", {"form": form, "max_photos": MAX_PHOTOS},
                      status=422)
    subject = form.save()
    messages.success(request, f"Made the subject {subject.name}.")
    if request.htmx:
        return HttpResponseClientRedirect(subject.get_absolute_url())
    return redirect(subject)


@login_required
@require_safe
def subject_detail(request: SignedInRequest, subject_id: str) -> HttpResponse:
    return _detail(request, owned_subject(request, subject_id))


@login_required
@require_safe
def subject_photos(request: SignedInRequest, subject_id: str) -> HttpResponse:
    """The before/after list alone, polled while backgrounds are being removed."""
    subject = owned_subject(request, subject_id)
    return render(request, "subjects/partials/photos.html",
                  {"subject": subject, "polling": _pending(subject)})


@login_required
@require_POST
def edit_subject(request: SignedInRequest, subject_id: str) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    form = SubjectForm(request.POST, request.FILES, owner=request.user, subject=subject)
    if not form.is_valid() or not accept_photos(form):
        return _detail(request, subject, form, status=422)
    form.save()
    messages.success(request, f"Saved {subject.name}.")
    return redirect(subject)


@login_required
@require_POST
def delete_subject(request: SignedInRequest, subject_id: str) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    subjects.delete_subject(subject)
    messages.success(request, f"Deleted {subject.name}. Videos made with it stay.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("subjects"))
    return redirect("subjects")


@login_required
@require_POST
def choose_version(request: SignedInRequest, subject_id: str, photo_id: int) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    try:
        subjects.choose_version(_photo(subject, photo_id),
                                request.POST.get("version") == "cutout")
    except SubjectRefused as refused:
        messages.error(request, refused.message)
    if request.htmx:
        return render(request, "subjects/partials/photos.html",
                      {"subject": owned_subject(request, subject_id), "polling": False})
    return redirect(subject)


@login_required
@require_POST
def delete_photo(request: SignedInRequest, subject_id: str, photo_id: int) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    try:
        subjects.remove_photo(subject, _photo(subject, photo_id))
    except SubjectRefused as refused:
        messages.error(request, refused.message)
    if request.htmx:
        return HttpResponseClientRedirect(subject.get_absolute_url())
    return redirect(subject)


@login_required
@require_POST
def grant_subject(request: SignedInRequest, subject_id: str) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    try:
        grant = subjects.grant_use(subject, request.POST.get("username", ""), request.user)
    except SubjectRefused as refused:
        return _detail(request, subject, status=422, grant_error=refused.message)
    messages.success(request, f"{grant.user} may now use {subject.name} in their videos.")
    return redirect(subject)


@login_required
@require_POST
def revoke_grant(request: SignedInRequest, subject_id: str, grant_id: int) -> HttpResponse:
    subject = owned_subject(request, subject_id)
    grant = get_object_or_404(SubjectGrant.objects.select_related("user", "subject"),
                              pk=grant_id, subject=subject)
    failed = subjects.revoke_use(grant, request.user)
    note = f" {failed} of their waiting jobs used it and failed." if failed else ""
    messages.success(request, f"{grant.user} may no longer use {subject.name}.{note}")
    return redirect(subject)
