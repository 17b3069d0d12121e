"""The REST API's request and response bodies (pydantic, Django-free).

The server validates and documents with these; the `framecraft` client parses its answers
with the same classes, so both sides read one definition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

TaskName = Literal["t2v", "i2v", "v2v", "edit", "extend", "personalize", "control"]
RoleName = Literal["start_image", "end_image", "source_video", "mask", "reference"]
StatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
VisibilityName = Literal["private", "unlisted", "public"]
WebhookEvent = Literal["started", "succeeded", "failed", "progress"]
WEBHOOK_EVENTS: tuple[str, ...] = ("started", "succeeded", "failed", "progress")


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
    """One input of a job: an upload of yours or a video of your gallery, in a role."""

    model_config = ConfigDict(extra="forbid")

    role: RoleName
    upload_id: UUID | None = None
    video_id: UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InputIn:
        if (self.upload_id is None) == (self.video_id is None):
            raise ValueError("an input names exactly one of upload_id and video_id")
        return self


class JobIn(BaseModel):
    """A job for any task. Unset sizes, steps and guidance take the model's defaults; an unset
    seed is drawn. `options` are the task's own settings (e.g. `fit`, `crop` for i2v,
    `strength` for v2v): GET /presets and the reference list them."""

    model_config = ConfigDict(extra="forbid")

    task: TaskName = "t2v"
    preset: str
    prompt: str
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    inputs: list[InputIn] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class InputOut(BaseModel):
    role: str
    position: int
    upload_id: UUID | None
    video_id: UUID | None


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

    url: str = Field(max_length=500)
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
