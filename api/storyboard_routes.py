"""Storyboards: list, create, read, rename, delete; add, change, move and remove shots;
render. The shot checks and messages are the storyboard page's own (storyboards.forms);
owner only: anyone else gets 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

from django.db import transaction
from django.db.models import Max
from django.forms import Form
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status
from pydantic import BaseModel, Field

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, ApiError, form_refused, not_found
from api.present import video_out
from api.schemas import VideoOut
from storyboards import render as rendering
from storyboards.forms import ShotForm, StoryboardForm, default_preset
from storyboards.models import MAX_SHOTS, MAX_TITLE, Shot, Storyboard, swap
from worker.catalogue import CATALOGUE

router = Router(tags=["storyboards"])

TransitionName = Literal["continue", "cut"]


class ShotIn(BaseModel):
    prompt: str
    preset: str | None = Field(None, description="empty: a model that can both start and "
                                                 "continue a shot")
    num_frames: int | None = Field(None, description="empty: the model's default")
    seed: int | None = Field(None, description="empty: a new one")
    transition: TransitionName | None = Field(
        None, description="`continue` starts from the last frame of the shot before; the "
                          "first shot always cuts. Empty: `cut` for the first, else "
                          "`continue`")
    start_image: uuid.UUID | None = Field(None, description="one of your image uploads "
                                                            "(a cut only)")
    subject: uuid.UUID | None = Field(None, description="one of your subjects, or one shared "
                                                        "with you (a cut only)")
    lora: uuid.UUID | None = None
    lora_strength: float = 1.0


class ShotChange(BaseModel):
    prompt: str | None = None
    preset: str | None = None
    num_frames: int | None = None
    seed: int | None = None
    transition: TransitionName | None = None
    start_image: uuid.UUID | None = None
    subject: uuid.UUID | None = None
    lora: uuid.UUID | None = None
    lora_strength: float | None = None


class ShotMove(BaseModel):
    direction: Literal["up", "down"]


class StoryboardIn(BaseModel):
    title: str = Field(max_length=MAX_TITLE)
    shots: list[ShotIn] = Field(default_factory=list, max_length=MAX_SHOTS)


class StoryboardChange(BaseModel):
    title: str = Field(max_length=MAX_TITLE)


class ShotOut(BaseModel):
    id: uuid.UUID
    number: int
    prompt: str
    preset: str
    num_frames: int
    seed: int
    transition: TransitionName
    start_image: uuid.UUID | None
    subject: uuid.UUID | None
    lora: uuid.UUID | None
    lora_strength: float
    state: str = Field(description="done, queued, running, failed, cancelled, waiting (for "
                                   "the shot it continues), changed, new")
    status: str
    job_id: uuid.UUID | None
    video_id: uuid.UUID | None


class StoryboardOut(BaseModel):
    id: uuid.UUID
    title: str
    state: str = Field(description="draft, rendering, joining, stopped, done, or changed "
                                   "(rendered, but shots changed since)")
    message: str
    shots: list[ShotOut]
    video: VideoOut | None = Field(description="the joined video, while it is of the shots "
                                               "as they are")
    created_at: datetime
    updated_at: datetime


def storyboard_out(request: HttpRequest, board: Storyboard) -> StoryboardOut:
    status = rendering.board_status(board)
    return StoryboardOut(
        id=board.id, title=board.title, state=status.state, message=status.message,
        shots=[ShotOut(
            id=item.shot.id, number=item.number, prompt=item.shot.prompt,
            preset=item.shot.preset, num_frames=item.shot.num_frames, seed=item.shot.seed,
            transition="continue" if rendering.continues(item.shot, item.number - 1)
            else "cut",
            start_image=item.shot.start_image_id, subject=item.shot.subject_id,
            lora=item.shot.lora_id, lora_strength=item.shot.lora_strength, state=item.state,
            status=item.label, job_id=item.shot.job_id, video_id=item.shot.video_id)
            for item in status.shots],
        video=video_out(request, status.video) if status.video is not None else None,
        created_at=board.created_at, updated_at=board.updated_at)


def owned(user: User, storyboard_id: uuid.UUID) -> Storyboard:
    board = Storyboard.objects.filter(pk=storyboard_id, owner=user).first()
    if board is None:
        raise not_found("storyboard")
    return board


def owned_shot(board: Storyboard, shot_id: uuid.UUID) -> Shot:
    shot = Shot.objects.filter(pk=shot_id, storyboard=board).first()
    if shot is None:
        raise not_found("shot")
    return shot


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    return {key: "" if value is None else str(value) for key, value in values.items()}


def _save_shot(board: Storyboard, values: dict[str, Any], shot: Shot | None, first: bool,
               prefix: str = "") -> Shot:
    """The shot through the page's own form: the same checks, the same messages."""
    form = ShotForm(_form_data(values), instance=shot, owner=board.owner, first=first)
    if not form.is_valid():
        raise form_refused(cast(Form, form), "invalid",
                           {name: f"{prefix}{name}" for name in form.fields})
    saved: Shot = form.save(commit=False)
    if shot is None:
        saved.storyboard = board
        saved.position = (board.shots.aggregate(last=Max("position"))["last"] or 0) + 1
    saved.save()
    return saved


def _new_shot(board: Storyboard, body: ShotIn, first: bool, prefix: str = "") -> Shot:
    values = body.model_dump()
    preset = values["preset"] = values["preset"] or default_preset()
    if values["num_frames"] is None and preset in CATALOGUE:
        values["num_frames"] = CATALOGUE[preset].default_frames
    values["transition"] = values["transition"] or ("cut" if first else "continue")
    return _save_shot(board, values, None, first, prefix)


def _touch(board: Storyboard) -> None:
    board.updated_at = timezone.now()
    board.save(update_fields=["updated_at"])


def _title(board: Storyboard | None, title: str) -> Storyboard:
    form = StoryboardForm({"title": title}, instance=board)
    if not form.is_valid():
        raise form_refused(cast(Form, form), "invalid")
    saved: Storyboard = form.save(commit=False)
    return saved


@router.get("/storyboards", response={200: list[StoryboardOut], **ERRORS},
            url_name="storyboards_list", summary="Your storyboards, latest changed first")
def list_storyboards(request: HttpRequest) -> list[StoryboardOut]:
    return [storyboard_out(request, board)
            for board in Storyboard.objects.filter(owner=caller(request))]


@router.post("/storyboards", response={201: StoryboardOut, **ERRORS},
             url_name="storyboards_create", summary="Create a storyboard (with its shots)",
             description="Shots are checked as the storyboard page checks them; one that is "
                         "refused refuses the whole storyboard (`fields` keys are "
                         "`shots.N.field`).")
def create_storyboard(request: HttpRequest, body: StoryboardIn) -> Status[StoryboardOut]:
    user = caller(request)
    with transaction.atomic():
        board = _title(None, body.title)
        board.owner = user
        board.save()
        for index, shot in enumerate(body.shots):
            _new_shot(board, shot, index == 0, f"shots.{index}.")
    return Status(201, storyboard_out(request, board))


@router.get("/storyboards/{storyboard_id}", response={200: StoryboardOut, **ERRORS},
            url_name="storyboard_detail",
            summary="A storyboard: its shots, each shot's state, and the joined video")
def get_storyboard(request: HttpRequest, storyboard_id: uuid.UUID) -> StoryboardOut:
    return storyboard_out(request, owned(caller(request), storyboard_id))


@router.patch("/storyboards/{storyboard_id}", response={200: StoryboardOut, **ERRORS},
              url_name="storyboard_rename", summary="Rename a storyboard")
def rename_storyboard(request: HttpRequest, storyboard_id: uuid.UUID, body: StoryboardChange
                      ) -> StoryboardOut:
    board = _title(owned(caller(request), storyboard_id), body.title)
    _touch(board)
    return storyboard_out(request, board)


@router.delete("/storyboards/{storyboard_id}", response={204: None, **ERRORS},
               url_name="storyboard_delete", summary="Delete a storyboard",
               description="Its shots' waiting or running jobs are cancelled; the videos "
                           "already made stay in your gallery.")
def delete_storyboard(request: HttpRequest, storyboard_id: uuid.UUID) -> Status[None]:
    rendering.discard(owned(caller(request), storyboard_id))
    return Status(204, None)


@router.post("/storyboards/{storyboard_id}/shots", response={201: StoryboardOut, **ERRORS},
             url_name="storyboard_add_shot", summary="Add a shot at the end")
def add_shot(request: HttpRequest, storyboard_id: uuid.UUID, body: ShotIn
             ) -> Status[StoryboardOut]:
    board = owned(caller(request), storyboard_id)
    with transaction.atomic():
        board = Storyboard.objects.select_for_update().get(pk=board.pk)
        count = board.shots.count()
        if count >= MAX_SHOTS:
            raise ApiError(409, "too_many_shots",
                           f"A storyboard has at most {MAX_SHOTS} shots.")
        _new_shot(board, body, count == 0)
        _touch(board)
    return Status(201, storyboard_out(request, board))


@router.patch("/storyboards/{storyboard_id}/shots/{shot_id}",
              response={200: StoryboardOut, **ERRORS}, url_name="storyboard_change_shot",
              summary="Change a shot (only the fields sent)",
              description="The next render makes it again, with the shots continuing from "
                          "it; the others are reused. Send `null` for `start_image`, "
                          "`subject` or `lora` to clear it.")
def change_shot(request: HttpRequest, storyboard_id: uuid.UUID, shot_id: uuid.UUID,
                body: ShotChange) -> StoryboardOut:
    board = owned(caller(request), storyboard_id)
    shot = owned_shot(board, shot_id)
    values = {**{key: value for key, value in shot.choices().items() if key != "seed"},
              "seed": shot.seed, "lora_strength": shot.lora_strength,
              **body.model_dump(exclude_unset=True)}
    first = not board.shots.filter(position__lt=shot.position).exists()
    _save_shot(board, values, shot, first)
    _touch(board)
    return storyboard_out(request, board)


@router.delete("/storyboards/{storyboard_id}/shots/{shot_id}",
               response={200: StoryboardOut, **ERRORS}, url_name="storyboard_remove_shot",
               summary="Remove a shot")
def remove_shot(request: HttpRequest, storyboard_id: uuid.UUID, shot_id: uuid.UUID
                ) -> StoryboardOut:
    board = owned(caller(request), storyboard_id)
    owned_shot(board, shot_id).delete()
    _touch(board)
    return storyboard_out(request, board)


@router.post("/storyboards/{storyboard_id}/shots/{shot_id}/move",
             response={200: StoryboardOut, **ERRORS}, url_name="storyboard_move_shot",
             summary="Move a shot one place up or down")
def move_shot(request: HttpRequest, storyboard_id: uuid.UUID, shot_id: uuid.UUID,
              body: ShotMove) -> StoryboardOut:
    board = owned(caller(request), storyboard_id)
    owned_shot(board, shot_id)
    with transaction.atomic():
        shots = list(Storyboard.objects.select_for_update().get(pk=board.pk).shots.all())
        index = next(i for i, shot in enumerate(shots) if shot.pk == shot_id)
        other = index - 1 if body.direction == "up" else index + 1
        if 0 <= other < len(shots):
            swap(shots, index, other)
            _touch(board)
    return storyboard_out(request, board)


@router.post("/storyboards/{storyboard_id}/render", response={202: StoryboardOut, **ERRORS},
             url_name="storyboard_render", summary="Render: make what changed, then join",
             description="Queues the first shot without an up-to-date video (each next one "
                         "when the one before finishes), then joins them into one video. A "
                         "failed or cancelled shot stops the render (`state` `stopped`); "
                         "rendering again resumes from it. Follow `state` with GET.")
def render_storyboard(request: HttpRequest, storyboard_id: uuid.UUID
                      ) -> Status[StoryboardOut]:
    board = owned(caller(request), storyboard_id)
    try:
        rendering.render(board)
    except rendering.RenderRefused as refused:
        raise ApiError(409, "no_shots", str(refused)) from None
    board.refresh_from_db()
    return Status(202, storyboard_out(request, board))
