"""The caller's own queue: its order, pause and resume, and whether the whole queue is held
for maintenance (the studio's queue controls, for scripts)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Router
from pydantic import BaseModel, Field

from accounts.models import User
from api.auth import caller
from api.errors import ERRORS, not_found
from generation import queue

router = Router(tags=["queue"])


class QueueOut(BaseModel):
    waiting: list[UUID] = Field(description="Your waiting jobs in your order: the first of "
                                            "them starts next of yours")
    paused: bool = Field(description="You paused your queue: your waiting jobs do not start "
                                     "(running ones finish) until you resume it")
    weight: int = Field(description="Your turns per round in the fair share between people")
    maintenance: bool = Field(description="The whole queue is paused for maintenance: jobs "
                                          "are accepted and wait")
    maintenance_reason: str = ""


class QueueOrderIn(BaseModel):
    job_ids: list[UUID] = Field(max_length=1000, description=(
        "Your waiting jobs in the order you want; those not named follow in their order"))


class MoveIn(BaseModel):
    job_id: UUID
    to: Literal["top", "up", "down", "bottom"]


def queue_out(user: User) -> QueueOut:
    hold, member = queue.held(), queue.member(user)
    return QueueOut(waiting=list(queue.waiting(user).values_list("id", flat=True)),
                    paused=member.paused, weight=member.weight, maintenance=hold is not None,
                    maintenance_reason=hold.reason if hold else "")


@router.get("/queue", response={200: QueueOut, **ERRORS}, url_name="queue",
            summary="Your queue: your waiting jobs in order, paused or not")
def get_queue(request: HttpRequest) -> QueueOut:
    return queue_out(caller(request))


@router.put("/queue/order", response={200: QueueOut, **ERRORS}, url_name="queue_order",
            summary="Put your waiting jobs in an order",
            description="Only which of your own jobs starts next changes: turns between "
                        "people stay fair. A job that is not yours answers 404.")
def order_queue(request: HttpRequest, body: QueueOrderIn) -> QueueOut:
    user = caller(request)
    try:
        queue.reorder(user, body.job_ids)
    except queue.NotYourJob:
        raise not_found("job") from None
    return queue_out(user)


@router.post("/queue/move", response={200: QueueOut, **ERRORS},
             url_name="queue_move", summary="Move one of your waiting jobs",
             description="To the top or bottom of your order, or one place up or down. A job "
                         "that is not yours, or no longer waiting, answers 404.")
def move_job(request: HttpRequest, body: MoveIn) -> QueueOut:
    user = caller(request)
    try:
        queue.move(user, body.job_id, body.to)
    except queue.NotYourJob:
        raise not_found("waiting job") from None
    return queue_out(user)


@router.post("/queue/pause", response={200: QueueOut, **ERRORS}, url_name="queue_pause",
             summary="Pause your queue (running jobs finish)")
def pause_queue(request: HttpRequest) -> QueueOut:
    user = caller(request)
    queue.pause(user)
    return queue_out(user)


@router.post("/queue/resume", response={200: QueueOut, **ERRORS}, url_name="queue_resume",
             summary="Resume your queue")
def resume_queue(request: HttpRequest) -> QueueOut:
    user = caller(request)
    queue.resume(user)
    return queue_out(user)
