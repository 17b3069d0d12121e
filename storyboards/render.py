"""Rendering a storyboard: its shots' jobs one after another, then the join.

A shot that continues needs the video of the shot before it, so shots are queued one at a
time: `render` (the person's Render) queues the first shot that has no up-to-date video, and
each shot's video arriving (`_shot_finished`, on the Video being saved when its job succeeds)
queues the next. A shot is up to date when its video was rendered with the settings it has
now, which for a continuing shot include the video it continued from: so changing one shot
re-renders it and the continuing shots after it, and reuses every other. Once every shot is
up to date, the join (storyboards.tasks, on the models worker) makes the storyboard's video.

A failed or cancelled shot job stops the render where it is (`board_status` says so on the
page); Render again resumes from that shot.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import av
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from generation import lifecycle
from generation.inputs import frame_upload
from generation.models import InputRole, Job, JobStatus, Upload, Video
from generation.presets import Ability, Task, get_preset
from generation.specs import InputRef, LoraUse, SpecError
from generation.subjects import reference_refs, snapshot, usable_subjects, with_photos
from generation.submission import Submission, accept
from generation.uploads import UploadRefused
from storyboards.models import RenderState, Shot, Storyboard, Transition
from webapp.celery import app as celery_app

log = logging.getLogger("framecraft.storyboards")

JOIN_TASK = "framecraft.join_storyboard"


class RenderRefused(ValueError):
    """A render that cannot start, with the message to show."""


def continues(shot: Shot, index: int) -> bool:
    """Whether the shot starts from the last frame of the one before (the first shot cuts)."""
    return index > 0 and shot.transition == Transition.CONTINUE


def task_of(shot: Shot, index: int) -> Task:
    if continues(shot, index) or shot.start_image_id:
        return Task.I2V
    if shot.subject_id:
        return Task.PERSONALIZE
    return Task.T2V


def settings_for(shot: Shot, index: int, previous: Video | None) -> dict[str, Any]:
    """What the shot's video is made from: the person's choices and, where it continues, the
    video it continues (so a new video before it makes it stale)."""
    choices = shot.choices()
    if not continues(shot, index):
        return {**choices, "transition": Transition.CUT.value, "continues_from": None}
    return {**choices, "continues_from": str(previous.id) if previous else None}


def is_current(shot: Shot, index: int, previous: Video | None) -> bool:
    return bool(shot.video_id) and shot.video_settings == settings_for(shot, index, previous)


# --- What the person does -------------------------------------------------------------------

def render(storyboard: Storyboard) -> None:
    """Start (or resume) rendering: queue the first shot that is not up to date, or the join
    when all are."""
    with transaction.atomic():
        board = Storyboard.objects.select_for_update().get(pk=storyboard.pk)
        if not board.shots.exists():
            raise RenderRefused("Add a shot first.")
        board.state, board.message = RenderState.RENDERING, ""
        _touch(board, "state", "message")
        _advance(board, resume=True)


def discard(storyboard: Storyboard) -> None:
    """Delete the storyboard, cancelling its shots' waiting or running jobs (nobody will join
    them); the videos already made stay in the gallery."""
    with transaction.atomic():
        for shot in storyboard.shots.select_related("job"):
            if shot.job is not None and shot.job.is_active:
                lifecycle.cancel(shot.job)
        storyboard.delete()


def advance(storyboard_id: uuid.UUID) -> None:
    """Move a render on after one of its shots finished (nothing when it is not rendering)."""
    with transaction.atomic():
        board = Storyboard.objects.select_for_update().filter(pk=storyboard_id).first()
        if board is not None and board.state == RenderState.RENDERING:
            _advance(board, resume=False)


def _touch(board: Storyboard, *fields: str) -> None:
    board.updated_at = timezone.now()
    board.save(update_fields=[*fields, "updated_at"])


def _advance(board: Storyboard, *, resume: bool) -> None:
    shots = list(board.shots.select_related("job", "video"))
    previous: Video | None = None
    for index, shot in enumerate(shots):
        wanted = settings_for(shot, index, previous)
        if shot.video_id and shot.video_settings == wanted:
            previous = shot.video
            continue
        job = shot.job
        if job is not None and job.is_active:
            if shot.job_settings == wanted:
                return  # its video will move the render on
            lifecycle.cancel(job)  # made before the shot was changed: no longer wanted
        elif (job is not None and job.can_retry and shot.job_settings == wanted
              and not resume):
            return  # stopped at this shot until the person renders again
        try:
            _queue_shot(board, shot, index, previous, wanted)
        except (SpecError, lifecycle.JobLimitReached, UploadRefused, LookupError,
                av.error.FFmpegError, OSError) as error:
            board.state = RenderState.STOPPED
            board.message = f"Shot {index + 1} could not start: {_reason(error)}"
            _touch(board, "state", "message")
        return
    shot_videos = [str(shot.video_id) for shot in shots]
    if board.video_id and board.joined_from == shot_videos:
        board.state = RenderState.DONE
        _touch(board, "state")
        return
    board.state = RenderState.JOINING
    _touch(board, "state")
    transaction.on_commit(lambda: celery_app.send_task(JOIN_TASK, args=[str(board.id)]))


def _reason(error: Exception) -> str:
    if isinstance(error, SpecError):
        return " ".join(dict.fromkeys(error.errors.values()))
    if isinstance(error, UploadRefused):
        return error.message
    if isinstance(error, LookupError | av.error.FFmpegError | OSError):
        return "the last frame of the shot before could not be read."
    return str(error)


def _queue_shot(board: Storyboard, shot: Shot, index: int, previous: Video | None,
                wanted: dict[str, Any]) -> Job:
    """Submit the shot's job through the one entrance (`accept`, then the lifecycle)."""
    owner = board.owner
    inputs: list[InputRef] = []
    subjects: tuple[dict[str, str], ...] = ()
    task = task_of(shot, index)
    if continues(shot, index):
        if previous is None:
            raise SpecError({"__all__": "the shot before it has no video."})
        shot.frame = _last_frame(owner, previous, shot.frame)
        shot.save(update_fields=["frame"])  # kept for the next try, should this one fail
        inputs.append(InputRef(InputRole.START_IMAGE, upload_id=shot.frame.id))
    elif shot.start_image_id:
        inputs.append(InputRef(InputRole.START_IMAGE, upload_id=shot.start_image_id))
    elif shot.subject_id:
        subject = with_photos(usable_subjects(owner)).filter(pk=shot.subject_id).first()
        if subject is None or not subject.photos.all():
            raise SpecError({"subject": "its subject is no longer yours to use, or has no "
                                        "photos."})
        inputs.extend(reference_refs([subject], get_preset(shot.preset).max_reference_images))
        subjects = (snapshot(subject),)
    loras = (LoraUse(shot.lora_id, shot.lora_strength),) if shot.lora_id else ()
    spec = accept(task, Submission(
        preset=shot.preset, prompt=shot.prompt, num_frames=shot.num_frames, seed=shot.seed,
        inputs=tuple(inputs), loras=loras, subjects=subjects, owner=owner))
    job = lifecycle.submit(owner, spec)
    shot.job, shot.job_settings = job, wanted
    shot.save(update_fields=["job", "job_settings", "frame"])
    return job


def _last_frame(owner: Any, video: Video, made: Upload | None) -> Upload:
    """The video's last frame as the owner's upload (the one made before, when it is of the
    same video), noting where it came from for the lineage."""
    if made is not None and made.metadata.get("frame_of") == str(video.id):
        return made
    return frame_upload(owner, video)


@receiver(post_save, sender=Video, dispatch_uid="storyboards.shot_finished")
def _shot_finished(sender: type[Video], instance: Video, created: bool, **kwargs: Any
                   ) -> None:
    """A shot's job made its video (saved in the lifecycle's `succeed`): the shot takes it,
    with the settings its job was made with, and the render goes on once that commits."""
    if not created or instance.job_id is None:
        return
    shot = Shot.objects.filter(job_id=instance.job_id).only("id", "storyboard_id",
                                                           "job_settings").first()
    if shot is None:
        return
    Shot.objects.filter(pk=shot.pk, job_id=instance.job_id).update(
        video=instance, video_settings=shot.job_settings)
    transaction.on_commit(lambda: _advance_safely(shot.storyboard_id))


def _advance_safely(storyboard_id: uuid.UUID) -> None:
    """Runs in the worker that finished the shot, after its job is stored: a problem here
    stops the render with a message, never the worker."""
    try:
        advance(storyboard_id)
    except Exception as error:
        log.exception("storyboard %s: the render could not go on", storyboard_id)
        Storyboard.objects.filter(pk=storyboard_id).update(
            state=RenderState.STOPPED, message=f"The render could not go on: {error}",
            updated_at=timezone.now())


# --- What the page shows --------------------------------------------------------------------

@dataclass(frozen=True)
class ShotStatus:
    shot: Shot
    number: int
    state: str  # done, queued, running, failed, cancelled, waiting, changed, new
    label: str
    job: Job | None


@dataclass(frozen=True)
class BoardStatus:
    state: str  # a RenderState, or "changed" (rendered, but shots changed since)
    label: str
    message: str
    shots: list[ShotStatus]
    video: Video | None  # the joined video, when it is of the shots as they are

    @property
    def live(self) -> bool:
        """Whether the page should keep asking (something is still being made)."""
        return self.state in (RenderState.RENDERING, RenderState.JOINING)


def board_status(board: Storyboard, shots: list[Shot] | None = None) -> BoardStatus:
    """Each shot's state and the storyboard's, read from the shots' jobs and videos."""
    shots = shots if shots is not None else list(
        board.shots.select_related("job", "video", "start_image", "subject", "lora"))
    previous: Video | None = None
    known = True  # `previous` is the video the next shot would continue from
    statuses: list[ShotStatus] = []
    stopped_at: ShotStatus | None = None
    for index, shot in enumerate(shots):
        number = index + 1
        settled = known or not continues(shot, index)
        wanted = settings_for(shot, index, previous)
        job = shot.job if shot.job_id else None
        if settled and shot.video_id and shot.video_settings == wanted:
            statuses.append(ShotStatus(shot, number, "done", "Done", job))
            previous, known = shot.video, True
            continue
        if not settled:
            status = ShotStatus(shot, number, "waiting", f"Waits for shot {number - 1}", job)
        elif job is not None and shot.job_settings == wanted:
            label = {JobStatus.QUEUED: "Waiting in the queue",
                     JobStatus.RUNNING: _running_label(job),
                     JobStatus.FAILED: f"Failed: {job.error_message or 'no reason given'}",
                     JobStatus.CANCELLED: "Cancelled"}.get(JobStatus(job.status), "Done")
            status = ShotStatus(shot, number, job.status, label, job)
        elif shot.video_id:
            status = ShotStatus(shot, number, "changed", "Changed: made again on Render", job)
        else:
            status = ShotStatus(shot, number, "new", "Not rendered yet", job)
        if stopped_at is None and status.state in (JobStatus.FAILED, JobStatus.CANCELLED):
            stopped_at = status
        statuses.append(status)
        known = False
    current_videos = [str(shot.video_id) for shot in shots]
    all_done = bool(shots) and all(status.state == "done" for status in statuses)
    joined = board.video if (board.video_id and all_done
                             and board.joined_from == current_videos) else None
    state, message = board.state, board.message
    if state == RenderState.RENDERING and stopped_at is not None:
        state = RenderState.STOPPED
        message = (f"Stopped at shot {stopped_at.number}: "
                   f"{stopped_at.label[0].lower()}{stopped_at.label[1:]}. "
                   "Render again to go on from it.")
    elif state == RenderState.DONE and joined is None:
        state = "changed"
        message = ("Shots changed since the last render: Render again to update the video "
                   "(only the changed shots, and those continuing from them, are made again).")
    labels = {"changed": "Changed since the last render", **dict(RenderState.choices)}
    return BoardStatus(state, labels[state], message, statuses, joined)


def _running_label(job: Job) -> str:
    if job.progress_total:
        return f"Rendering: step {job.progress_step} of {job.progress_total}"
    return "Rendering"


def shot_problems(preset_id: str, num_frames: int, transition: str, has_start_image: bool,
                  has_subject: bool, lora: Any, first: bool) -> dict[str, str]:
    """What would stop the shot from rendering, found before Render (the job's own checks
    run again at submission): the model, the length and how the shot starts."""
    try:
        preset = get_preset(preset_id)
    except KeyError:
        return {"preset": f"There is no model called {preset_id!r}."}
    if not preset.is_installed():
        return {"preset": f"{preset.label} is not installed."}
    problems: dict[str, str] = {}
    if not preset.validate_frames(num_frames):
        problems["num_frames"] = (
            f"{preset.label} makes {preset.min_frames} to {preset.max_frames} frames, one more "
            f"than a multiple of {preset.frame_step}; {num_frames} is not.")
    continuing = transition == Transition.CONTINUE and not first
    if continuing and has_start_image:
        problems["start_image"] = ("A continuing shot starts from the last frame of the shot "
                                   "before: remove the start image, or make it a cut.")
    if has_subject and (continuing or has_start_image):
        problems["subject"] = ("A shot with a subject starts from its photos, not from an "
                               "image: make it a cut without a start image.")
    if problems:
        return problems
    needs = (Task.I2V if continuing or has_start_image else
             Task.PERSONALIZE if has_subject else Task.T2V)
    if not preset.can(needs):
        what = {Task.I2V: "start from an image (a start image or a continuing shot)",
                Task.PERSONALIZE: "take a subject's photos", Task.T2V: "make a video from a "
                                                                       "prompt alone"}[needs]
        problems["preset"] = f"{preset.label} cannot {what}; choose another model."
    elif has_subject and not preset.supports(Ability.REFERENCE):
        problems["preset"] = f"{preset.label} takes no subject's photos."
    if lora is not None and preset.id not in lora.fits:
        problems["lora"] = f"The LoRA “{lora.name}” does not fit {preset.label}."
    return problems
