"""Domain rows as the API's response bodies (api.schemas)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from django.urls import reverse

from api.models import WebhookEndpoint
from api.schemas import (
    GrantOut,
    InputOut,
    JobError,
    JobOut,
    Lineage,
    LoraOut,
    PresetOut,
    Progress,
    SharedSubjectOut,
    SubjectOut,
    SubjectPhotoOut,
    UploadOut,
    VideoOut,
    WebhookOut,
)
from generation.formatting import eta_s
from generation.loras import base_label
from generation.models import (
    InputRole,
    Job,
    JobInput,
    JobQuerySet,
    Lora,
    Subject,
    SubjectPhoto,
    Upload,
    Video,
)
from generation.presets import Preset, Task
from generation.queries import with_queue_positions
from generation.submission import offered_speeds, task_options
from worker.catalogue.loras import lora_experts


def preset_out(preset: Preset) -> PresetOut:
    return PresetOut(
        id=preset.id, label=preset.label, description=preset.description,
        family=preset.family, tasks=[Task(t).value for t in preset.tasks],
        options={Task(t).value: task_options(t) for t in preset.tasks},
        speeds=[mode.value for mode in offered_speeds(preset)],
        lora_experts=list(lora_experts(preset)),  # type: ignore[arg-type]
        makes_sound=preset.makes_sound, max_keyframes=preset.max_keyframes,
        abilities=sorted(a.value for a in preset.abilities), sizes=list(preset.sizes),
        frame_choices=list(preset.frame_choices()), fps=preset.fps,
        max_steps=preset.max_steps, max_guidance=preset.max_guidance,
        max_reference_images=preset.max_reference_images,
        default_width=preset.default_width, default_height=preset.default_height,
        default_frames=preset.default_frames, default_steps=preset.default_steps,
        default_guidance=preset.default_guidance)


def _input_out(row: JobInput) -> InputOut:
    return InputOut(role=row.role, position=row.position, upload_id=row.upload_id,
                    video_id=row.video_id, subject_id=row.subject_id, strength=row.strength,
                    expert=row.expert if row.role == InputRole.LORA else None)


def jobs_out(jobs: Iterable[Job]) -> list[JobOut]:
    """Jobs with their queue positions (one query for the list); inputs prefetched."""
    out = []
    for job in with_queue_positions(jobs):
        video = getattr(job, "video", None)
        out.append(JobOut(
            id=job.id, task=job.kind, preset=job.preset, status=job.status,  # type: ignore[arg-type]
            status_sequence=job.status_sequence, origin=job.origin, retry_of=job.retry_of_id,
            params=job.params,
            inputs=[_input_out(row) for row in job.inputs.all()
                    if row.role != InputRole.REMIX_OF],
            attempts=job.attempts, cancel_requested=job.cancel_requested,
            progress=Progress(step=job.progress_step, total=job.progress_total),
            queue_position=job.queue_position,
            eta_seconds=round(eta, 1) if job.status == "running" and
            (eta := eta_s(job)) is not None else None,
            error=JobError(code=job.error_code, message=job.error_message)
            if job.error_code or job.error_message else None,
            video_id=video.id if video is not None else None,
            created_at=job.created_at, started_at=job.started_at,
            finished_at=job.finished_at))
    return out


def job_rows() -> JobQuerySet:
    """The query every job read starts from: what jobs_out needs, without the preview."""
    return (Job.objects.select_related("video").prefetch_related("inputs")
            .defer("preview_jpeg"))


def upload_out(upload: Upload) -> UploadOut:
    return UploadOut(id=upload.id, kind=upload.kind,  # type: ignore[arg-type]
                     original_name=upload.original_name, size_bytes=upload.size_bytes,
                     width=upload.width, height=upload.height,
                     frame_count=upload.frame_count, fps=upload.fps,
                     created_at=upload.created_at)


def _lineage(video: Video) -> Lineage:
    job = video.job
    rows = list(JobInput.objects.filter(job=job)) if job is not None else []
    remix = next((row.video_id for row in rows if row.role == InputRole.REMIX_OF), None)
    return Lineage(inputs=[_input_out(row) for row in rows if row.role != InputRole.REMIX_OF],
                   remix_of=remix, retry_of=job.retry_of_id if job is not None else None)


def video_out(request: HttpRequest, video: Video) -> VideoOut:
    share_url = (request.build_absolute_uri(reverse("shared_video", args=[video.share_slug]))
                 if video.share_is_live else None)
    return VideoOut(
        id=video.id, job_id=video.job_id, task=video.kind, preset=video.preset,
        prompt=video.prompt, width=video.width, height=video.height, fps=video.fps,
        frame_count=video.frame_count, duration_s=video.duration_s,
        size_bytes=video.size_bytes, created_at=video.created_at, recipe=video.recipe,
        lineage=_lineage(video), is_favourite=video.is_favourite,
        visibility=video.visibility,  # type: ignore[arg-type]
        share_url=share_url, share_expires_at=video.share_expires_at,
        file_url=request.build_absolute_uri(reverse("api-1:video_file", args=[video.id])),
        poster_url=request.build_absolute_uri(reverse("api-1:video_poster", args=[video.id])))


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(id=endpoint.pk, url=endpoint.url, events=list(endpoint.events),
                      created_at=endpoint.created_at, last_delivery_at=endpoint.last_delivery_at,
                      last_status=endpoint.last_status, last_error=endpoint.last_error)


def photo_out(photo: SubjectPhoto) -> SubjectPhotoOut:
    return SubjectPhotoOut(
        id=photo.pk, position=photo.position, original_upload_id=photo.original_id,
        cutout_upload_id=photo.cutout_id,
        cutout_status=photo.cutout_status,  # type: ignore[arg-type]
        cutout_message=photo.cutout_message, use_cutout=photo.use_cutout,
        used_upload_id=photo.chosen.id, crop=list(photo.crop) if photo.crop else None)


def subject_out(subject: Subject) -> SubjectOut:
    """An own subject with its photos and grants (prefetched with their users)."""
    return SubjectOut(
        id=subject.id, name=subject.name, kind=subject.kind,  # type: ignore[arg-type]
        created_at=subject.created_at, updated_at=subject.updated_at,
        photos=[photo_out(photo) for photo in subject.photos.all()],
        grants=[GrantOut(id=g.pk, username=g.user.username, created_at=g.created_at)
                for g in subject.grants.all()])


def shared_subject_out(subject: Subject) -> SharedSubjectOut:
    return SharedSubjectOut(id=subject.id, name=subject.name,
                            kind=subject.kind,  # type: ignore[arg-type]
                            owner=subject.owner.username)


def lora_out(lora: Lora) -> LoraOut:
    return LoraOut(id=lora.pk, name=lora.name, purpose=lora.purpose,  # type: ignore[arg-type]
                   base=lora.base, base_label=base_label(lora.base), fits=list(lora.fits),
                   rank=lora.rank, layer_count=lora.layer_count, key_format=lora.key_format,
                   size_bytes=lora.upload.size_bytes, created_at=lora.created_at)
