"""Improve prompt for scripts: the studio's button (generation/prompt_help_views.py) as a
request to create and a request to poll, through the same generation.prompt_help."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from ninja import Router, Status

from api.auth import caller
from api.errors import ERRORS, ApiError, not_found
from api.schemas import PromptHelpIn, PromptHelpOut
from generation import prompt_help

router = Router(tags=["prompt help"])


def prompt_help_out(request: prompt_help.PromptHelp) -> PromptHelpOut:
    return PromptHelpOut(
        id=uuid.UUID(request.id), status=request.status,  # type: ignore[arg-type]
        prompt=request.prompt, preset=request.preset, style=request.style,
        helper=request.helper_id, suggestion=request.suggestion, message=request.message,
        seconds=request.seconds)


@router.post("/prompt-help", response={202: PromptHelpOut, **ERRORS},
             url_name="prompt_help_create", summary="Ask for a better prompt",
             description="A prompt model on the models worker rewrites the prompt in the "
                         "detailed style the chosen model was trained on. The answer is "
                         "`queued`: poll `GET /prompt-help/{id}` (about once a second) for "
                         "the suggestion. Counts against the studio's Improve prompt limit "
                         "(10 a minute per person).")
def create_prompt_help(request: HttpRequest, body: PromptHelpIn) -> Status[PromptHelpOut]:
    user = caller(request)
    try:
        preset = prompt_help.installed_preset(body.preset)
        if is_ratelimited(request, group=prompt_help.RATE_GROUP, key="user",
                          rate=prompt_help.RATE, method="POST", increment=True):
            raise ApiError(429, "rate_limited", "You are asking very fast; wait a minute and "
                           "try again.", headers={"Retry-After": "60"})
        asked = prompt_help.ask(user, body.prompt, preset, task=body.task)
    except prompt_help.PromptHelpRefused as refused:
        raise ApiError(422, "prompt_help_refused", refused.message,
                       {refused.field: refused.message} if refused.field else None) from None
    return Status(202, prompt_help_out(asked))


@router.get("/prompt-help/{help_id}", response={200: PromptHelpOut, **ERRORS},
            url_name="prompt_help_detail", summary="Poll a request for a better prompt",
            description="`queued` or `running` until the prompt model answers: then "
                        "`succeeded` with the `suggestion`, or `failed` with the `message` "
                        "(also when no worker answered in time). Gone after 15 minutes.")
def get_prompt_help(request: HttpRequest, help_id: uuid.UUID) -> PromptHelpOut:
    found = prompt_help.find(caller(request), str(help_id))
    if found is None:
        raise not_found("prompt help request")
    return prompt_help_out(found)
