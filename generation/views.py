"""Studio pages. Every object is looked up through its owner: a stranger gets 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit.decorators import ratelimit

from generation import lifecycle
from generation.edit_forms import EDIT_FORMS
from generation.form_files import FileSlot, SentFiles, accept_sent_files
from generation.forms import (
    CROP_FIELDS,
    KEPT_SETTINGS,
    KEYFRAME_FIELDS,
    LORA_FIELDS,
    ImageToVideoForm,
    TextToVideoForm,
)
from generation.media import serve_media
from generation.models import Job, Video
from generation.personalize_form import PersonalizeForm, SwapForm
from generation.queries import recent_jobs, remixable_video, with_queue_positions
from generation.specs import JobSpec, SpecError
from generation.transfer_forms import TransferMotionForm, owned_source
from webapp.http import SignedInRequest


def owned_job(request: HttpRequest, job_id: str) -> Job:
    return get_object_or_404(Job, pk=job_id, owner=request.user)


def owned_video(request: HttpRequest, video_id: str) -> Video:
    return get_object_or_404(Video, pk=video_id, owner=request.user)


STUDIO_FORMS: dict[str, type[TextToVideoForm]] = {
    **EDIT_FORMS, **{form.task: form for form in (
        ImageToVideoForm, PersonalizeForm, SwapForm, TransferMotionForm)}}


def _studio_form(request: SignedInRequest, task: str | None, *args: Any, **kwargs: Any
                 ) -> TextToVideoForm:
    """The studio's form for a task: from a prompt (the default) or from an image; the edit
    studio's tasks (restyle, change an area, reframe, extend) have their own forms."""
    return STUDIO_FORMS.get(task or "", TextToVideoForm)(*args, user=request.user, **kwargs)


def _submitted_form(request: SignedInRequest, task: str | None
                    ) -> tuple[TextToVideoForm, SentFiles | None]:
    """The form bound to what was sent. Files sent in its file slots are accepted as uploads
    first (generation.form_files), so the form reads them by id, like any other input."""
    form_class = STUDIO_FORMS.get(task or "", TextToVideoForm)
    slots: tuple[FileSlot, ...] = getattr(form_class, "file_slots", ())
    if not slots:
        return form_class(request.POST, request.FILES, user=request.user), None
    sent = accept_sent_files(form_class, slots, request.user, request.POST, request.FILES)
    return form_class(sent.data, user=request.user, refused_files=sent.refused), sent


def _job_card(request: HttpRequest, job: Job) -> HttpResponse:
    return render(request, "generation/partials/job_card.html",
                  {"job": with_queue_positions([job])[0]})


def _job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "generation/partials/job_list.html",
                  {"jobs": recent_jobs(request.user)})


@login_required
@require_safe
def studio(request: SignedInRequest) -> HttpResponse:
    if request.htmx and request.GET.get("after"):
        # "Show more": the next page of finished jobs, in place of the button.
        return render(request, "generation/partials/job_page.html",
                      {"jobs": recent_jobs(request.user, after=request.GET["after"])})
    initial: dict[str, Any] = {}
    task = request.GET.get("task")
    remix = request.GET.get("remix")
    if remix:
        source = remixable_video(request.user, remix)
        if source is None:
            raise Http404("No such video.")
        initial = TextToVideoForm.initial_from_recipe(source.recipe, remix_of=source.id)
        task = None
    elif task == ImageToVideoForm.task and request.GET.get("start_image"):
        # From the gallery (a video's last frame): the image form with it as the start.
        initial = {"start_image": request.GET["start_image"]}
        for kept in ("prompt", "preset"):  # an unknown or uninstalled preset is not offered
            if request.GET.get(kept):
                initial[kept] = request.GET[kept]
    elif task == TransferMotionForm.task and request.GET.get("source_video"):
        # From a video's page: motion transfer with that video as the source.
        if owned_source(request.user, video_id=request.GET["source_video"]) is None:
            raise Http404("No such video.")
        initial = {"source_video": request.GET["source_video"]}
    return render(request, "generation/studio.html", {
        "form": _studio_form(request, task, initial=initial), "jobs": recent_jobs(request.user),
    })


@login_required
@require_safe
def generation_form(request: SignedInRequest) -> HttpResponse:
    """The form re-rendered: for another task or model (its defaults and limits, keeping what
    the user typed), or after an image was chosen or a keyframe added (keeping the settings
    too; a new start image gets the size nearest its shape and loses the old crop box)."""
    kept = ["preset", "prompt", "negative_prompt", "seed", "start_image", "end_image", "fit",
            "source_video", "source_upload", "control", "conditioning_scale", "start_s",
            "mask", "speed", *LORA_FIELDS]
    trigger = request.htmx.trigger_name if request.htmx else None
    if trigger not in ("preset", "task"):
        kept += ["num_frames", "steps", "guidance"]
        if trigger != "start_image":
            kept += ["size", *CROP_FIELDS]
    keep: dict[str, object] = {k: request.GET[k] for k in kept if request.GET.get(k)}
    for name in KEYFRAME_FIELDS:
        if values := request.GET.getlist(name):
            keep[name] = values
    if request.GET.get("add_keyframe"):
        keep["add_keyframe"] = True
    task = request.GET.get("task")
    if request.GET.getlist("subjects"):
        keep["subjects"] = request.GET.getlist("subjects")
    # A remix stays one (its lineage), as long as the video is still one the user may remix.
    remix = request.GET.get("remix_of")
    if remix and (source := remixable_video(request.user, remix)) is not None:
        keep["remix_of"] = source.id
    return render(request, "generation/partials/generation_form.html",
                  {"form": _studio_form(request, task, initial=keep)})


@login_required
@require_POST
@ratelimit(key="user", rate=lambda group, request: settings.FRAMECRAFT_SUBMIT_RATE,
           method="POST", block=False)
def submit(request: SignedInRequest) -> HttpResponse:
    task = request.POST.get("task")
    form, sent = _submitted_form(request, task)
    if getattr(request, "limited", False):
        form.is_valid()
        form.add_error(None, "You are submitting very fast; wait a minute and try again.")
    elif form.is_valid():
        source = None
        if form.cleaned_data["remix_of"]:
            source = remixable_video(request.user, form.cleaned_data["remix_of"])
        try:
            _submit_all(request.user, form.specs(), remix_of=source)
        except lifecycle.JobLimitReached as limit:
            form.add_error(None, str(limit))
        except VariationsOverLimit as over:
            form.add_error("variations", str(over))
        except SpecError as problem:
            for field, message in problem.errors.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            if not request.htmx:
                return redirect("studio")
            # A fresh form keeps the model, the prompt and every setting the person chose, so
            # the next job runs as they set it up (a seed only if typed: a random one is drawn
            # again).
            again = (*KEPT_SETTINGS, *getattr(form, "kept_after_submit", (
                "preset", "prompt", "negative_prompt", "fit", "start_image", "end_image",
                "source_video", "source_upload", "control", "conditioning_scale", "start_s",
                *KEYFRAME_FIELDS, *CROP_FIELDS)))
            form = _studio_form(request, task, initial={
                # A file sent with the form is an upload's id in the data by now.
                k: value for k in again
                if (value := form.cleaned_data.get(k) or form.data.get(k))})
            return render(request, "generation/partials/submitted.html", {
                "form": form, "jobs": recent_jobs(request.user)})
    if sent is not None:
        sent.discard_unkept(form)
    if not request.htmx:
        return render(request, getattr(form, "page", "generation/studio.html"), {
            "form": form, "jobs": recent_jobs(request.user)}, status=422)
    return render(request, getattr(form, "partial", "generation/partials/generation_form.html"),
                  {"form": form}, status=422)


class VariationsOverLimit(Exception):
    """More variations asked for than the job limit leaves room for."""


def _submit_all(user: Any, specs: list[JobSpec], remix_of: Video | None) -> None:
    """Every variation as a job, or none: all count against the job limit together."""
    if len(specs) > 1:
        limit = user.active_job_limit
        free = limit - Job.objects.owned_by(user).active().count()
        if free <= 0:
            raise lifecycle.JobLimitReached(limit)
        if len(specs) > free:
            raise VariationsOverLimit(
                f"{len(specs)} variations would make more jobs at once than the {limit} you may "
                f"have; ask for {free} or fewer.")
    # One transaction: a limit reached halfway (another tab submitting) leaves no job behind.
    with transaction.atomic():
        for spec in specs:
            lifecycle.submit(user, spec, remix_of=remix_of)


@login_required
@require_safe
def job_card(request: SignedInRequest, job_id: str) -> HttpResponse:
    return _job_card(request, owned_job(request, job_id))


@login_required
@require_POST
def cancel(request: SignedInRequest, job_id: str) -> HttpResponse:
    job = owned_job(request, job_id)
    if not lifecycle.cancel(job):
        messages.info(request, "That job had already finished.")
    if not request.htmx:
        return redirect("studio")
    job.refresh_from_db()
    return _job_card(request, job)


@login_required
@require_POST
def retry(request: SignedInRequest, job_id: str) -> HttpResponse:
    job = owned_job(request, job_id)
    try:
        lifecycle.retry(job)
    except lifecycle.JobLimitReached as limit:
        messages.error(request, str(limit))
    except ValueError as error:
        messages.error(request, str(error))
    if not request.htmx:
        return redirect("studio")
    return _job_list(request)


@login_required
@require_safe
def video_file(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    return serve_media(request, owned_video(request, video_id).file, "video/mp4")


@login_required
@require_safe
def video_poster(request: SignedInRequest, video_id: str) -> HttpResponseBase:
    return serve_media(request, owned_video(request, video_id).poster, "image/jpeg")

