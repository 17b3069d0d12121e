"""The join: every shot's video, in order, made into one new video of the owner's.

At a continuation the shot's first frame re-draws the last frame of the shot before (it was
made from it): the two are one frame, colour-matched and blended (worker.editing.join with an
overlap of one frame), so the picture neither jumps nor shifts colour there. At a cut the
shots follow each other. Sound is crossfaded at every seam (over that frame at a continuation,
over a few milliseconds at a cut); a shot without sound is silent in its place.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from generation.models import Video
from storyboards.models import RenderState, Shot, Storyboard
from storyboards.render import continues, is_current
from worker.catalogue.request import AudioTrack
from worker.editing import audio, join
from worker.runtime.encode import encode_mp4, poster_jpeg

log = logging.getLogger("framecraft.storyboards")


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (F, H, W, 3) uint8
    fps: int
    sound: AudioTrack | None
    continues: bool


def decode(video: Video) -> tuple[np.ndarray, AudioTrack | None]:
    with video.file.open("rb") as stream, av.open(stream) as container:
        frames = np.stack([frame.to_ndarray(format="rgb24")
                           for frame in container.decode(video=0)])
    with video.file.open("rb") as stream:
        sound = audio.read_audio(stream)
    return frames, sound


def fitted(frames: np.ndarray, fps: int, width: int, height: int, to_fps: int) -> np.ndarray:
    """A shot's frames at the first shot's size and frame rate (models differ in both): each
    frame resized, frames picked by time."""
    if fps != to_fps:
        count = max(1, round(len(frames) * to_fps / fps))
        picks = np.minimum(np.round(np.arange(count) * fps / to_fps).astype(int),
                           len(frames) - 1)
        frames = frames[picks]
    if frames.shape[1:3] != (height, width):
        frames = np.stack([np.asarray(Image.fromarray(frame).resize((width, height),
                                                                   Image.Resampling.LANCZOS))
                           for frame in frames])
    return frames


def join_clips(clips: list[Clip]) -> tuple[np.ndarray, int, AudioTrack | None]:
    """The clips as one: frames at the first clip's size and rate, and the sound (None when
    no clip has any)."""
    height, width = clips[0].frames.shape[1:3]
    fps = clips[0].fps
    shots = [fitted(clip.frames, clip.fps, width, height, fps) for clip in clips]
    frames = shots[0]
    for clip, shot in zip(clips[1:], shots[1:], strict=True):
        frames = (join.join(frames, shot, overlap=1) if clip.continues
                  else np.concatenate([frames, shot]))
    return frames, fps, _joined_sound(clips, [len(shot) / fps for shot in shots], fps)


def _joined_sound(clips: list[Clip], lengths_s: list[float], fps: int) -> AudioTrack | None:
    heard = [clip.sound for clip in clips if clip.sound is not None]
    if not heard:
        return None
    rate, channels = heard[0].sample_rate, heard[0].channels
    track: AudioTrack | None = None
    for clip, length_s in zip(clips, lengths_s, strict=True):
        own = (audio.segment(audio.converted(clip.sound, rate, channels), 0.0, length_s)
               if clip.sound is not None
               else AudioTrack(np.zeros((channels, round(length_s * rate)), np.float32), rate))
        # A continuation's first frame is the shot before's last: their sound overlaps as
        # long. A cut crossfades over a few milliseconds, so that it does not click.
        track = own if track is None else audio.join(
            track, own, 1 / fps if clip.continues else audio.FADE_S)
    return track


def join_storyboard(storyboard_id: uuid.UUID | str) -> str | None:
    """Join the storyboard's shot videos into its video (when every shot is still up to
    date); the storyboard is DONE with it, or STOPPED with the reason."""
    board = Storyboard.objects.filter(pk=storyboard_id).select_related("owner").first()
    if board is None or board.state != RenderState.JOINING:
        return None
    shots = list(board.shots.select_related("video"))
    if not _all_current(shots):
        return None  # changed meanwhile: the next Render makes the changed shots first
    try:
        video = _make_video(board, shots)
    except Exception as error:
        log.exception("storyboard %s: the join failed", board.id)
        Storyboard.objects.filter(pk=board.id, state=RenderState.JOINING).update(
            state=RenderState.STOPPED, message=f"Joining the shots failed: {error}",
            updated_at=timezone.now())
        return None
    wanted = [str(shot.video_id) for shot in shots]
    with transaction.atomic():
        locked = Storyboard.objects.select_for_update().get(pk=board.id)
        fresh = list(locked.shots.select_related("video"))
        if locked.state != RenderState.JOINING or [str(s.video_id) for s in fresh] != wanted:
            video.file.delete(save=False)
            video.poster.delete(save=False)
            return None
        video.save()
        locked.video, locked.joined_from = video, wanted
        locked.state, locked.message, locked.updated_at = RenderState.DONE, "", timezone.now()
        locked.save(update_fields=["video", "joined_from", "state", "message", "updated_at"])
    log.info("storyboard %s joined into video %s", board.id, video.id)
    return str(video.id)


def _all_current(shots: list[Shot]) -> bool:
    previous: Video | None = None
    for index, shot in enumerate(shots):
        if not is_current(shot, index, previous):
            return False
        previous = shot.video
    return bool(shots)


def _make_video(board: Storyboard, shots: list[Shot]) -> Video:
    clips: list[Clip] = []
    for index, shot in enumerate(shots):
        assert shot.video is not None
        frames, sound = decode(shot.video)
        clips.append(Clip(frames, shot.video.fps, sound, continues(shot, index)))
    frames, fps, sound = join_clips(clips)
    first = shots[0].video
    assert first is not None
    recipe: dict[str, Any] = {
        "kind": "storyboard", "storyboard": str(board.id), "title": board.title,
        "shots": [{"video": str(shot.video_id), "prompt": shot.prompt,
                   "preset": shot.video.preset if shot.video else shot.preset,
                   "continues": continues(shot, index)}
                  for index, shot in enumerate(shots)],
        "fps": fps, **({"audio": {**sound.recipe(), "duration_s": round(len(frames) / fps, 4)}}
                       if sound is not None else {}),
    }
    with tempfile.TemporaryDirectory(prefix="framecraft-storyboard-") as tmp:
        path = Path(tmp) / "video.mp4"
        info = encode_mp4(frames, fps, path, metadata={
            "title": board.title[:200], "comment": json.dumps(recipe, sort_keys=True)},
            audio=sound)
        video = Video(owner_id=board.owner_id, job=None, recipe=recipe, kind=first.kind,
                      preset=first.preset, prompt=board.title, width=info.width,
                      height=info.height, fps=info.fps, frame_count=info.frame_count,
                      duration_s=info.duration_s, size_bytes=info.size_bytes)
        with path.open("rb") as stream:
            video.file.save("video.mp4", File(stream), save=False)
        video.poster.save("poster.jpg", ContentFile(poster_jpeg(frames[0])), save=False)
    return video
