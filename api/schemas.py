"""The REST API's request and response bodies (pydantic, Django-free).

The server validates and documents with these; the `framecraft` client parses its answers
with the same classes, so both sides read one definition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from generation.text import text_problem, text_problems

TaskName = Literal["t2v", "i2v", "v2v", "edit", "extend", "personalize", "control", "upscale",
                   "soundtrack"]
# Every role a job's input can have (generation.models.InputRole but the lineage-only
# `remix_of`, which JobIn.remix_of names); tests/api/test_api_parity.py holds them equal.
RoleName = Literal["start_image", "end_image", "source_video", "mask", "reference", "keyframe",
                   "lora"]
# worker.catalogue.speed.SpeedMode, spelled out: this module is the client's too and stays
# light (the same test holds them equal).
SpeedName = Literal["quality", "balanced", "preview"]
# worker.catalogue.request.EXPERTS: the experts of a two-expert model (Wan 2.2 A14B) a LoRA
# goes into (the same test holds them equal).
ExpertName = Literal["both", "high_noise", "low_noise"]
StatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
VisibilityName = Literal["private", "unlisted", "public"]
WebhookEvent = Literal["started", "succeeded", "failed", "progress"]
WEBHOOK_EVENTS: tuple[str, ...] = ("started", "succeeded", "failed", "progress")
SubjectKindName = Literal["person", "character", "object", "place", "style"]
CutoutStatusName = Literal["pending", "ready", "failed", "unavailable"]
LoraPurposeName = Literal["subject", "style"]


def _storable(value: str) -> str:
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


def _storable_json(value: Any) -> Any:
    for _, problem in text_problems(value):
        raise ValueError(problem)
    return value


# Every text a request carries: PostgreSQL cannot store NUL or lone surrogates (a 500 at
# save time), so they are refused as the field's 422 here (see generation/text.py).
Text = Annotated[str, AfterValidator(_storable)]
JsonValue = Annotated[Any, AfterValidator(_storable_json)]


class Problem(BaseModel):
    """Every error: a stable code, a sentence for people, and one message per bad field."""

    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class PresetOut(BaseModel):
    id: str
    label: str
    description: str
    family: str
    tasks: list[TaskName]
    options: dict[str, list[str]] = Field(
        description="per task, the settings it takes in JobIn.options")
    speeds: list[SpeedName] = Field(
        default_factory=list, description="the speed modes its jobs can ask for here")
    lora_experts: list[ExpertName] = Field(default_factory=list, description=(
        "the experts a LoRA of its jobs may name (`expert`): all three on a model of a "
        "high-noise and a low-noise expert (Wan 2.2 A14B), none on a model of one transformer"))
    makes_sound: bool = Field(default=False, description=(
        "whether it makes sound with the picture (JobIn.sound: false leaves it out)"))
    max_keyframes: int = Field(default=0, description="keyframes an i2v job of it takes")
    abilities: list[str]
    sizes: list[tuple[int, int]]
    frame_choices: list[int]
    fps: int
    max_steps: int
    max_guidance: float
    max_reference_images: int
    default_width: int
    default_height: int
    default_frames: int
    default_steps: int
    default_guidance: float


class InputIn(BaseModel):
    """One input of a job: an upload of yours or a video of your gallery, in a role. A
    `keyframe` image sits where the entry of the same rank in `options.keyframes` places it;
    a `lora` input is one of your LoRAs by its id, at `strength`, in the experts `expert`
    names (as a job's `inputs` list them; `loras` is the same)."""

    model_config = ConfigDict(extra="forbid")

    role: RoleName
    upload_id: UUID | None = None
    video_id: UUID | None = None
    strength: float | None = Field(default=None, allow_inf_nan=False,
                                   description="a `lora` input's strength (default 1)")
    expert: ExpertName | None = Field(default=None, description=(
        "a `lora` input's experts (default both): see LoraUseIn.expert"))

    @model_validator(mode="after")
    def _exactly_one(self) -> InputIn:
        if (self.upload_id is None) == (self.video_id is None):
            raise ValueError("an input names exactly one of upload_id and video_id")
        if self.role == "lora" and self.upload_id is None:
            raise ValueError("a lora input names the LoRA's id as upload_id")
        if self.strength is not None and self.role != "lora":
            raise ValueError("only a lora input has a strength")
        if self.expert is not None and self.role != "lora":
            raise ValueError("only a lora input has an expert")
        return self


class LoraUseIn(BaseModel):
    """One of your LoRAs (its id from GET /loras) at a strength, in the experts it names."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    strength: float = Field(1.0, allow_inf_nan=False,
                            description="above 0 and at most the studio's maximum")
    expert: ExpertName = Field("both", description=(
        "on a model of two experts (GET /presets lists them in `lora_experts`), which the "
        "LoRA goes into: `both`, or `high_noise` / `low_noise` for a LoRA made for one of "
        "them (e.g. one of a Wan 2.2 A14B pair); a model of one transformer takes `both` only"))


class JobIn(BaseModel):
    """A job for any task, with every setting the studio offers. Unset sizes, steps and
    guidance take the model's defaults; an unset seed is drawn; unset speed is `quality`,
    fp8 off, sound on. `options` are the task's own settings (e.g. `fit`, `crop` and
    `keyframes` for i2v, `strength` for v2v): GET /presets and the reference list them.
    Subjects (picked by id or written `@name` in the prompt) give a `personalize` or `edit`
    job their photos as reference images; `loras` must fit the model."""

    model_config = ConfigDict(extra="forbid")

    task: TaskName = "t2v"
    preset: str
    prompt: Text
    negative_prompt: Text = ""
    prompt_original: Text | None = Field(default=None, max_length=2000, description=(
        "the prompt as you wrote it, where `prompt` is an Improve prompt suggestion you took: "
        "the recipe keeps both"))
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    speed: SpeedName | None = Field(default=None, description=(
        "quality (the default), balanced (step caching) or preview (the model's distilled "
        "variant, where GET /presets lists it)"))
    fp8: bool | None = Field(default=None, description=(
        "fp8 matrix maths, where a GPU worker has it: faster, slightly different output"))
    sound: bool | None = Field(default=None, description=(
        "false: a silent video from a model that makes sound, or without a source's sound"))
    inputs: list[InputIn] = Field(default_factory=list)
    subjects: list[UUID] = Field(default_factory=list, description=(
        "subjects of yours or shared with you, beside those `@name` names in the prompt"))
    loras: list[LoraUseIn] = Field(default_factory=list)
    options: dict[str, JsonValue] = Field(default_factory=dict)
    remix_of: UUID | None = Field(default=None, description=(
        "a video of yours, or a public one, whose recipe this job starts from (its lineage)"))

    @field_validator("options", mode="after")
    @classmethod
    def _storable_names(cls, options: dict[str, Any]) -> dict[str, Any]:
        for name in options:
            _storable(name)
        return options


class InputOut(BaseModel):
    role: str = Field(description="one of InputIn's roles")
    position: int
    upload_id: UUID | None = Field(description="for a `lora` input, the LoRA's id")
    video_id: UUID | None
    subject_id: UUID | None = Field(None, description="a reference photo's subject")
    strength: float | None = Field(None, description="a LoRA's strength")
    expert: str | None = Field(None, description=(
        "a LoRA's experts (`both`, `high_noise`, `low_noise`); none for other inputs"))


class Progress(BaseModel):
    step: int
    total: int


class JobError(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    id: UUID
    task: str
    preset: str
    status: StatusName
    status_sequence: int
    origin: str
    retry_of: UUID | None
    params: dict[str, Any]
    inputs: list[InputOut]
    attempts: int
    cancel_requested: bool
    progress: Progress
    queue_position: int | None = Field(description="1 runs next; null when not waiting")
    eta_seconds: float | None = Field(description="time left in denoising, while running")
    error: JobError | None
    video_id: UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class UploadOut(BaseModel):
    id: UUID
    kind: Literal["image", "video"]
    original_name: str
    size_bytes: int
    width: int
    height: int
    frame_count: int
    fps: float
    created_at: datetime


class Lineage(BaseModel):
    inputs: list[InputOut]
    remix_of: UUID | None
    retry_of: UUID | None


class VideoOut(BaseModel):
    id: UUID
    job_id: UUID | None
    task: str
    preset: str
    prompt: str
    width: int
    height: int
    fps: int
    frame_count: int
    duration_s: float
    size_bytes: int
    created_at: datetime
    recipe: dict[str, Any]
    lineage: Lineage
    is_favourite: bool
    visibility: VisibilityName
    share_url: str | None
    share_expires_at: datetime | None
    file_url: str = Field(description="the MP4, with byte ranges; send your key")
    poster_url: str


class VideoPage(BaseModel):
    items: list[VideoOut]
    next_cursor: str | None


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visibility: VisibilityName
    expires: Literal["", "1d", "7d", "30d"] = Field(
        "", description="how long an unlisted or public link lives; empty: until revoked")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Text = Field(max_length=500)
    events: list[WebhookEvent] = Field(min_length=1)


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    last_delivery_at: datetime | None
    last_status: int | None
    last_error: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs every delivery; shown this once")


class FrameIn(BaseModel):
    """A frame of one of your videos, as a subject's photo."""

    model_config = ConfigDict(extra="forbid")

    video_id: UUID
    at_seconds: float = Field(0.0, allow_inf_nan=False)


class SubjectIn(BaseModel):
    """A new subject: a name (written `@name` in prompts), a kind, and 1 to 5 photos: images
    of yours from POST /uploads, and a frame of one of your videos."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    kind: SubjectKindName = "person"
    photos: list[UUID] = Field(default_factory=list, description="upload ids of your images")
    from_video: FrameIn | None = None


class SubjectChange(BaseModel):
    """A new name or kind, and photos to add (the subject keeps 1 to 5 in all)."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    kind: SubjectKindName | None = None
    photos: list[UUID] = Field(default_factory=list, description="upload ids to add")
    from_video: FrameIn | None = None


class SubjectPhotoOut(BaseModel):
    id: int
    position: int
    original_upload_id: UUID
    cutout_upload_id: UUID | None = Field(description="its background removed, once made")
    cutout_status: CutoutStatusName
    cutout_message: str
    use_cutout: bool
    used_upload_id: UUID = Field(description="the version jobs use")
    crop: list[int] | None = Field(description="suggested framing: left, top, right, bottom")


class GrantOut(BaseModel):
    id: int
    username: str
    created_at: datetime


class SubjectOut(BaseModel):
    id: UUID
    name: str
    kind: SubjectKindName
    created_at: datetime
    updated_at: datetime
    photos: list[SubjectPhotoOut]
    grants: list[GrantOut] = Field(description="the people who may use it in their videos")


class SharedSubjectOut(BaseModel):
    """Someone else's subject that they let you use (by `@name` or id); not to see or change."""

    id: UUID
    name: str
    kind: SubjectKindName
    owner: str


class SubjectList(BaseModel):
    own: list[SubjectOut]
    shared_with_you: list[SharedSubjectOut]


class PhotoVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal["cutout", "original"]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Text = Field(max_length=150)


class GrantRevoked(BaseModel):
    failed_jobs: int = Field(description="their waiting jobs that used the subject, now failed")


class LoraOut(BaseModel):
    id: UUID
    name: str
    purpose: LoraPurposeName
    base: str = Field(description="the preset it was made for")
    base_label: str
    fits: list[str] = Field(description="every preset it can be used with")
    rank: int
    layer_count: int
    key_format: str
    size_bytes: int
    created_at: datetime


class LoraChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text


# The tasks whose prompt describes the video (an upscale has none; a soundtrack's is sound).
PromptTaskName = Literal["t2v", "i2v", "v2v", "edit", "extend", "personalize", "control"]
PromptHelpStatusName = Literal["queued", "running", "succeeded", "failed"]


class PromptHelpIn(BaseModel):
    """A short prompt to rewrite in the detailed style `preset`'s model was trained on."""

    model_config = ConfigDict(extra="forbid")

    preset: str = Field(description="an installed model (GET /presets): whose style to write in")
    prompt: Text = Field(description="your idea, up to 2000 characters")
    task: PromptTaskName = Field("t2v", description=(
        "the job it is for: i2v and extend get a prompt about motion, since the video grows "
        "out of a picture the prompt model cannot see"))


class PromptHelpOut(BaseModel):
    """A request for a better prompt: poll it until `status` is succeeded or failed. It is
    kept for 15 minutes; take the suggestion into JobIn.prompt, and your words into
    JobIn.prompt_original, for the recipe to keep both."""

    id: UUID
    status: PromptHelpStatusName
    prompt: str = Field(description="your prompt as it was sent (stripped)")
    preset: str
    style: str = Field(description="whose style the suggestion is written in (Wan, LTX-2 …)")
    helper: str = Field(description="the prompt model that writes it")
    suggestion: str = Field(description="the rewritten prompt, once succeeded")
    message: str = Field(description="why there is no suggestion, once failed")
    seconds: float = Field(description="how long the prompt model took")
