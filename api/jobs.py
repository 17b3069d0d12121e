"""Jobs: create (any task, idempotent), read, list, cancel, retry."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import is_ratelimited
from ninja import Router, Status

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, ApiError, not_found
from api.models import IdempotencyKey
from api.paging import page
from api.present import job_rows, jobs_out
from api.schemas import JobIn, JobOut, JobPage, StatusName
from generation import lifecycle
from generation.models import InputRole, Job, Video
from generation.presets import Task
from generation.queries import remixable_video
from generation.specs import AddSound, InputRef, JobSpec, LoraUse, SpecError, UpscaleVideo
from generation.subjects import choose_subjects, plain_prompt, reference_refs, snapshot
from generation.submission import (
    Submission,
    accept,
    check_owned,
    draw_seed,
    resolve_preset,
    takes_subjects,
)
from generation.text import text_problem

router = Router(tags=["jobs"])
MAX_IDEMPOTENCY_KEY = 255


def owned_job(user: User, job_id: uuid.UUID) -> Job:
    job = job_rows().filter(pk=job_id, owner=user).first()
    if job is None:
        raise not_found("job")
    return job


def job_out(job: Job) -> JobOut:
    return jobs_out([job])[0]


def spec_from(user: User, body: JobIn) -> JobSpec:
    """The body as a submission, through the entrance the studio's forms use
    (generation.submission: the preset's defaults, the seed, the rules); the API only reads
    its references and, as "With a subject" does, its subjects."""
    if body.task == Task.UPSCALE:
        return _upscale_spec(user, body)
    if body.task == Task.SOUNDTRACK:
        return _soundtrack_spec(user, body)
    preset = resolve_preset(body.preset)
    refs = [InputRef(role=InputRole(ref.role), upload_id=ref.upload_id, video_id=ref.video_id)
            for ref in body.inputs if ref.role != InputRole.LORA]
    loras = [LoraUse(use.id, use.strength, use.expert) for use in body.loras] + [
        LoraUse(ref.upload_id, 1.0 if ref.strength is None else ref.strength,
                ref.expert or "both")
        for ref in body.inputs if ref.role == InputRole.LORA]
    prompt = body.prompt
    subjects: tuple[Mapping[str, str], ...] = ()
    if takes_subjects(body.task):
        room = preset.max_reference_images - sum(ref.role == InputRole.REFERENCE
                                                 for ref in refs)
        prompt, subjects, photos = _subjects(user, body, max(room, 0))
        refs += photos
    elif body.subjects:
        raise SpecError({"subjects": f"{body.task} takes no subjects; they are used by "
                                     "personalize and edit jobs."})
    return accept(body.task, Submission(
        preset=preset.id, prompt=prompt, negative_prompt=body.negative_prompt,
        width=body.width, height=body.height, num_frames=body.num_frames, steps=body.steps,
        guidance=body.guidance, seed=body.seed, speed=body.speed, fp8=body.fp8,
        sound=body.sound, inputs=tuple(refs), loras=tuple(loras), options=body.options,
        subjects=subjects, prompt_original=body.prompt_original, owner=user), preset)


UPSCALE_OPTIONS = ("factor", "sound")
SOUNDTRACK_OPTIONS = ("mix", "volume")


def _source_of_helper_job(user: User, body: JobIn, options: tuple[str, ...],
                          fixed: tuple[str, ...]) -> InputRef:
    """The one source video of a job a helper model runs on it (upscale, soundtrack), after
    refusing what such a job does not take: other options, the settings in `fixed` (the
    source and the model decide them), speed and fp8, LoRAs and subjects."""
    unknown = sorted(set(body.options) - set(options))
    if unknown:
        raise SpecError({f"options.{name}": f"{body.task} takes no option {name!r} (it takes: "
                         f"{', '.join(options)})." for name in unknown})
    given = [name for name in fixed if getattr(body, name) is not None]
    if given:
        raise SpecError({name: f"The source video and the model decide this in a {body.task} "
                               "job; leave this unset." for name in given})
    tuned = [name for name in ("speed", "fp8") if getattr(body, name) is not None]
    if tuned:
        raise SpecError({name: f"The {body.task} job runs its model as it is; leave this "
                               "unset." for name in tuned})
    if body.loras or body.subjects or any(ref.role == InputRole.LORA for ref in body.inputs):
        raise SpecError({"subjects" if body.subjects else "loras": f"{body.task} takes no "
                                                                   "LoRAs and no subjects."})
    refs = [InputRef(role=InputRole(ref.role), upload_id=ref.upload_id, video_id=ref.video_id)
            for ref in body.inputs]
    check_owned(user, refs)
    if len(refs) != 1 or refs[0].role != InputRole.SOURCE_VIDEO:
        raise SpecError({"inputs": f"The {body.task} job takes one input: its source_video."})
    return refs[0]


def _upscale_spec(user: User, body: JobIn) -> JobSpec:
    """An upscale as the video page's buttons make it: one `source_video` input and
    `options.factor` (2 or 4; `sound: false` to drop the track). `preset` names an
    upscaler, or is empty for the installed one; the size and length are the source's times
    the factor, so they, steps, guidance, the seed, speed and fp8 stay unset."""
    source = _source_of_helper_job(
        user, body, UPSCALE_OPTIONS,
        ("width", "height", "num_frames", "steps", "guidance", "seed"))
    if "sound" in body.options and body.sound is not None \
            and body.options["sound"] != body.sound:
        raise SpecError({"sound": "Say sound once: `sound` and `options.sound` differ."})
    sound = body.sound if body.sound is not None else body.options.get("sound", True)
    return UpscaleVideo.for_source(source, body.options.get("factor", 2), body.preset or None,
                                   sound=sound)


def _soundtrack_spec(user: User, body: JobIn) -> JobSpec:
    """Add sound as the video page's form makes it: one `source_video` input, the `prompt`
    (what it should sound like), `options.mix` (`under` the source's own sound, the default,
    or `replace`) and `options.volume` (0 to 1); `preset` names a soundtrack model or is
    empty for the installed one. The seed may be given; the size, length, steps and guidance
    are the source's and the model's."""
    source = _source_of_helper_job(
        user, body, SOUNDTRACK_OPTIONS,
        ("width", "height", "num_frames", "steps", "guidance"))
    if body.sound is False:
        raise SpecError({"sound": "Adding sound makes a video with sound."})
    return AddSound.for_source(source, body.prompt, mix=body.options.get("mix", "under"),
                               volume=body.options.get("volume", 0.5),
                               seed=body.seed if body.seed is not None else draw_seed(),
                               preset=body.preset or None)


def _subjects(user: User, body: JobIn, room: int
              ) -> tuple[str, tuple[Mapping[str, str], ...], list[InputRef]]:
    """As the studio's "With a subject" does: the subjects picked and named `@name` (own or
    granted) give their chosen photos, in turn, as reference images; the prompt reads `Rex`
    for `@Rex`, and the job records which subjects it used."""
    chosen, problems = choose_subjects(user, body.prompt, body.subjects)
    if problems:
        raise SpecError(problems)
    if not chosen:
        return body.prompt, (), []
    return (plain_prompt(body.prompt.strip()), tuple(snapshot(subject) for subject in chosen),
            reference_refs(chosen, room))


def remix_source(user: User, body: JobIn) -> Video | None:
    """The video whose recipe the job starts from: one of the caller's, or a public one."""
    if body.remix_of is None:
        return None
    video = remixable_video(user, body.remix_of)
    if video is None:
        raise SpecError({"remix_of": "There is no such video of yours, nor a public one."})
    return video


def _body_hash(body: JobIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _live_since() -> datetime:
    return timezone.now() - timedelta(hours=settings.FRAMECRAFT_IDEMPOTENCY_HOURS)


def _replay(user: User, key: str, digest: str) -> Job | None:
    """The job made earlier under this key, if any; a different body under it is refused."""
    row = IdempotencyKey.objects.filter(owner=user, key=key,
                                        created_at__gte=_live_since()).first()
    if row is None or row.job_id is None:
        return None
    if row.request_hash != digest:
        raise ApiError(409, "idempotency_key_reused",
                       "This Idempotency-Key was used for a different request; use a new key "
                       "for a new job.", {"Idempotency-Key": "Already used with another body."})
    return owned_job(user, row.job_id)


@router.post("/jobs", response={201: JobOut, 200: JobOut, **ERRORS}, url_name="jobs_create",
             summary="Create a job",
             description="Send `Idempotency-Key` to make a retried request safe: the same key "
                         "and body return the first job (200) instead of making another.")
def create_job(request: HttpRequest, body: JobIn) -> Status[JobOut]:
    user = caller(request)
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(422, "invalid", "The Idempotency-Key is too long.",
                       {"Idempotency-Key": f"At most {MAX_IDEMPOTENCY_KEY} characters."})
    if problem := text_problem(key):
        raise ApiError(422, "invalid", "The Idempotency-Key is not valid text.",
                       {"Idempotency-Key": problem})
    digest = _body_hash(body)
    if key and (earlier := _replay(user, key, digest)) is not None:
        return Status(200, job_out(earlier))
    if is_ratelimited(request, group="api-submit", key="user",
                      rate=settings.FRAMECRAFT_SUBMIT_RATE, increment=True):
        raise ApiError(429, "rate_limited", "You are submitting very fast; wait a minute and "
                       "try again.", headers={"Retry-After": "60"})
    spec = spec_from(user, body)
    remix = remix_source(user, body)
    with transaction.atomic():
        row = None
        if key:
            IdempotencyKey.objects.filter(owner=user, created_at__lt=_live_since()).delete()
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(owner=user, key=key,
                                                        request_hash=digest)
            except IntegrityError:
                # A request with the same key committed while this one ran.
                earlier = _replay(user, key, digest)
                if earlier is None:
                    raise ApiError(409, "idempotency_key_in_use", "A request with this "
                                   "Idempotency-Key is still being handled.") from None
                return Status(200, job_out(earlier))
        job = lifecycle.submit(user, spec, remix_of=remix)
        if row is not None:
            row.job = job
            row.save(update_fields=["job"])
    return Status(201, job_out(owned_job(user, job.id)))


@router.get("/jobs", response={200: JobPage, **ERRORS}, url_name="jobs_list",
            summary="List your jobs, newest first")
def list_jobs(request: HttpRequest, cursor: str | None = None, limit: int = 20,
              status: StatusName | None = None) -> JobPage:
    rows = job_rows().filter(owner=caller(request))
    if status:
        rows = rows.filter(status=status)
    items, next_cursor = page(rows, cursor, limit)
    return JobPage(items=jobs_out(items), next_cursor=next_cursor)


@router.get("/jobs/{job_id}", response={200: JobOut, **ERRORS}, url_name="job_detail",
            summary="Get a job: status, step of total, queue position, ETA")
def get_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    return job_out(owned_job(caller(request), job_id))


@router.post("/jobs/{job_id}/cancel", response={200: JobOut, **ERRORS}, url_name="job_cancel",
             summary="Cancel a job",
             description="A waiting job is cancelled at once; a running one stops at its next "
                         "step (`cancel_requested`). A finished job is refused with 409.")
def cancel_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    user = caller(request)
    job = owned_job(user, job_id)
    # Asking again while a running job winds down is fine; a finished job is refused.
    if not lifecycle.cancel(job) and (job.is_terminal or not job.cancel_requested):
        job.refresh_from_db(fields=["status"])
        raise ApiError(409, "not_cancellable", f"The job has already {job.status}.")
    return job_out(owned_job(user, job_id))


@router.post("/jobs/{job_id}/retry", response={201: JobOut, **ERRORS}, url_name="job_retry",
             summary="Retry a failed or cancelled job with the same recipe")
def retry_job(request: HttpRequest, job_id: uuid.UUID) -> Status[JobOut]:
    user = caller(request)
    job = owned_job(user, job_id)
    if not job.can_retry:
        raise ApiError(409, "not_retryable", "Only failed or cancelled jobs can be retried.")
    new = lifecycle.retry(job)
    return Status(201, job_out(owned_job(user, new.id)))
