"""Answering an Improve prompt request on the models worker: the request read from the
cache (generation.prompt_help), the prompt model run (worker.editing.prompt_enhancer), the
suggestion or the reason there is none written back for the page's poll."""

from __future__ import annotations

import logging

from generation import prompt_help
from generation.specs import MAX_PROMPT_CHARS
from worker.catalogue import HELPERS, GenerationError
from worker.editing.prompt_enhancer import enhance

log = logging.getLogger("framecraft.worker")


def improve(request_id: str) -> str | None:
    """Answer a queued request; its final status (None when it was gone or taken)."""
    request = prompt_help.claim(request_id)
    if request is None:
        return None
    helper = HELPERS.get(request.helper_id)
    try:
        if helper is None:
            raise GenerationError("weights_missing", "That prompt model is no longer offered.")
        suggestion = enhance(helper, request.prompt, family=request.instructions_of,
                             from_image=request.from_image, makes_sound=request.makes_sound,
                             seed=request.seed, max_chars=MAX_PROMPT_CHARS)
    except GenerationError as problem:
        prompt_help.finish(request, message=str(problem))
    except Exception as problem:
        log.exception("improving prompt request %s crashed", request_id)
        prompt_help.finish(request, message=f"The prompt could not be improved: {problem}")
    else:
        log.info("prompt request %s: %d tokens in %.1f s (%s, %s style)", request_id,
                 suggestion.new_tokens, suggestion.seconds, helper.id, suggestion.style)
        prompt_help.finish(request, suggestion=suggestion.text, seconds=suggestion.seconds)
    return request.status
