"""Improve prompt, the web side: a person's request for a better prompt, kept for a few minutes
in the cache (Redis) under an unguessable id, answered there by the models worker
(`worker.prompt_help`), and read back by the studio's poll. Nothing here imports torch.

A suggestion is a hint, not a record: it lives as long as the page that asked for it. What the
person does with it is in their job's recipe (`prompt` and `prompt_original`, see
`with_original_prompt`). Every read goes through the owner: a stranger's id finds nothing.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from generation.presets import CATALOGUE, Preset
from generation.specs import MAX_PROMPT_CHARS, JobSpec
from generation.text import text_problem
from webapp.celery import app as celery_app
from worker.catalogue import HelperModel, family_of, helper_for
from worker.catalogue.prompting import style_for

TASK_NAME = "framecraft.improve_prompt"
_KEY = "prompt-help:{}"
# Long enough for a slow CPU's answer and a person reading it; then it is gone.
KEEP_S = 15 * 60
# A request no worker has taken after this long will not be answered: the models worker is
# away (or lost the message). One taken but unanswered after RUN_LIMIT_S died with its worker.
UNANSWERED_AFTER_S = 60.0
RUN_LIMIT_S = 240.0
# Each request runs a language model on the models worker: a few a minute is plenty for a
# person, and a script cannot keep that worker busy for others. The studio's button and the
# API count against the same limit, per person.
RATE = "10/m"
RATE_GROUP = "improve_prompt"
# Tasks whose video grows out of a picture the model cannot see (a start image, the end of
# the source video): the suggestion describes motion more than looks.
FROM_PICTURE_TASKS = frozenset({"i2v", "extend"})


class PromptHelpRefused(Exception):
    """A request that cannot be asked: its message says why, for the person; `field` names
    the request's part at fault ("prompt", "preset"; empty where it is none of them)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class PromptHelp:
    """One request and, once the worker answered, its suggestion or why there is none."""

    id: str
    owner_id: int
    prompt: str
    preset: str
    instructions_of: str  # the family whose instructions the model gets
    helper_id: str
    from_image: bool = False
    makes_sound: bool = False
    seed: int = 10
    status: str = "queued"  # queued → running → succeeded | failed
    suggestion: str = ""
    message: str = ""
    style: str = ""
    seconds: float = 0.0
    asked_at: float = field(default_factory=time.time)
    started_at: float | None = None

    @property
    def pending(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def helper_label(self) -> str:
        from worker.catalogue import HELPERS

        helper = HELPERS.get(self.helper_id)
        return helper.label if helper else self.helper_id


def enhancer() -> HelperModel | None:
    """The prompt model the models worker would use, if one is installed (or the demo's)."""
    helper = helper_for("prompt")
    return helper if helper.is_installed() else None


def unavailable_reason() -> str:
    helper = helper_for("prompt")
    return (f"Improve prompt needs a prompt model: an admin installs {helper.label} on the "
            f"Models page (or: manage.py fetch_model {helper.id}).")


def style_name(preset: Preset | None) -> str:
    """Whose style a prompt for `preset` is rewritten in ("Wan", "LTX-2" …)."""
    return style_for(family_of(preset).name).name if preset is not None else ""


def check_prompt(prompt: Any) -> str:
    """The prompt to improve, stripped; PromptHelpRefused says what is wrong with it."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptHelpRefused("Write a prompt first: Improve prompt rewrites it in detail.",
                                "prompt")
    if problem := text_problem(prompt):
        raise PromptHelpRefused(f"The prompt cannot be improved: {problem}", "prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptHelpRefused(f"Keep the prompt under {MAX_PROMPT_CHARS} characters.",
                                "prompt")
    return prompt.strip()


def installed_preset(preset_id: Any) -> Preset:
    """The installed model a prompt is written for; PromptHelpRefused for any other."""
    preset = CATALOGUE.get(preset_id) if isinstance(preset_id, str) else None
    if preset is None or not preset.is_installed():
        raise PromptHelpRefused("Choose an installed model first.", "preset")
    return preset


def ask(user: Any, prompt: Any, preset: Preset, *, task: Any = "t2v") -> PromptHelp:
    """Queue a request on the models worker for a prompt of `task` (the studio's or the edit
    studio's); PromptHelpRefused when it cannot be asked."""
    text = check_prompt(prompt)
    from_image = task in FROM_PICTURE_TASKS
    helper = enhancer()
    if helper is None:
        raise PromptHelpRefused(unavailable_reason())
    request = PromptHelp(
        id=str(uuid.uuid4()), owner_id=user.pk, prompt=text, preset=preset.id,
        instructions_of=family_of(preset).name, helper_id=helper.id, from_image=from_image,
        makes_sound=preset.makes_sound, seed=secrets.randbelow(2**31),
        style=style_name(preset))
    save(request)
    # The models queue: small work asked for from a page, never behind a GPU's long jobs.
    celery_app.send_task(TASK_NAME, args=[request.id], queue=settings.CELERY_MODELS_QUEUE)
    return request


def save(request: PromptHelp) -> None:
    cache.set(_KEY.format(request.id), dataclasses.asdict(request), KEEP_S)


def load(request_id: str) -> PromptHelp | None:
    data = cache.get(_KEY.format(request_id))
    if not isinstance(data, dict):
        return None
    try:
        return PromptHelp(**data)
    except TypeError:  # written by another version
        return None


def find(user: Any, request_id: str) -> PromptHelp | None:
    """The user's own request by id (None for anyone else's, or one gone), failed with a
    message when no worker answered in time."""
    try:
        uuid.UUID(str(request_id))
    except ValueError:
        return None
    request = load(str(request_id))
    if request is None or request.owner_id != user.pk:
        return None
    now = time.time()
    if request.status == "queued" and now - request.asked_at > UNANSWERED_AFTER_S:
        return _gave_up(request, "No worker answered: the models worker may be away. Try "
                                 "again in a while.")
    if request.status == "running" and now - (request.started_at or now) > RUN_LIMIT_S:
        return _gave_up(request, "The worker stopped before it answered; try again.")
    return request


def _gave_up(request: PromptHelp, message: str) -> PromptHelp:
    request.status, request.message = "failed", message
    save(request)
    return request


def claim(request_id: str) -> PromptHelp | None:
    """The worker's side: the queued request, now running, for exactly one worker (a message
    delivered twice finds it taken); None when it is gone or taken."""
    request = load(request_id)
    if request is None or request.status != "queued":
        return None
    if not cache.add(_KEY.format(request_id) + ":claim", 1, KEEP_S):
        return None
    request.status, request.started_at = "running", time.time()
    save(request)
    return request


def finish(request: PromptHelp, *, suggestion: str = "", message: str = "",
           seconds: float = 0.0) -> None:
    request.status = "succeeded" if suggestion else "failed"
    request.suggestion, request.message, request.seconds = suggestion, message, seconds
    save(request)


# --- the recipe keeps both prompts ----------------------------------------------------------

_WITH_ORIGINAL: dict[type[JobSpec], type[Any]] = {}


def _with_original_class(spec_class: type[JobSpec]) -> type[Any]:
    """`spec_class` with one more field stored in the job's params: the prompt the person
    wrote before accepting a suggestion (the spec checks it as it checks all its text)."""
    if spec_class not in _WITH_ORIGINAL:
        _WITH_ORIGINAL[spec_class] = dataclasses.make_dataclass(
            spec_class.__name__, [("prompt_original", str, field(default=""))],
            bases=(spec_class,), frozen=True, kw_only=True,
            namespace={"__module__": __name__,
                       "__doc__": f"{spec_class.__doc__ or ''} With the prompt before Improve "
                                  "prompt rewrote it."})
    return _WITH_ORIGINAL[spec_class]


def with_original_prompt(spec: JobSpec, original: Any) -> JobSpec:
    """`spec` with its prompt's original kept (`prompt_original` in the job's params and the
    video's recipe), when one was given and differs from the prompt sent."""
    text = original.strip() if isinstance(original, str) else ""
    if not text or text == spec.prompt.strip():
        return spec
    if hasattr(spec, "prompt_original"):  # kept already: the newest word wins
        return dataclasses.replace(spec, prompt_original=text)  # type: ignore[call-arg]
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.init}
    extended: JobSpec = _with_original_class(type(spec))(**values, prompt_original=text)
    return extended
