"""Videos with sound for the tests: gallery videos and uploads whose MP4 carries a tone that
changes pitch every second (440 Hz, then 660, 880, ...), so the pitch heard in a result says
which second of the source it came from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files.base import ContentFile

from generation.models import Job, JobStatus, Video
from tests.sound.media import tone
from worker.catalogue.request import AudioTrack
from worker.runtime.encode import encode_mp4

RATE = 24000


def pitch_of_second(second: int) -> float:
    return 440.0 + 220.0 * second


def stepped_tone(seconds: int) -> AudioTrack:
    parts = [tone(1.0, RATE, hz=pitch_of_second(n)).samples for n in range(seconds)]
    return AudioTrack(np.concatenate(parts, axis=1), RATE)


def mp4_with_sound(frames: np.ndarray, fps: int, audio: AudioTrack | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        encode_mp4(frames, fps, path, {}, audio=audio)
        return path.read_bytes()


def sound_video(owner: Any, frames: np.ndarray, fps: int) -> Video:
    """A finished gallery video of `owner`'s with a stepped tone as its sound."""
    count, height, width = frames.shape[:3]
    audio = stepped_tone(int(np.ceil(count / fps)))
    job = Job.objects.create(owner=owner, preset="tiny", status=JobStatus.SUCCEEDED,
                             params={"prompt": "a bell tower", "seed": 1, "width": width,
                                     "height": height, "num_frames": count, "steps": 2,
                                     "guidance": 5.0, "negative_prompt": ""})
    data = mp4_with_sound(frames, fps, audio)
    video = Video(owner=owner, job=job, prompt="a bell tower", width=width, height=height,
                  fps=fps, frame_count=count, duration_s=count / fps, size_bytes=len(data),
                  recipe={"prompt": "a bell tower", "preset": "tiny", "seed": 1,
                          "audio": {**audio.recipe(), "duration_s": count / fps}})
    video.file.save("v.mp4", ContentFile(data), save=False)
    video.poster.save("p.jpg", ContentFile(b"\xff\xd8\xff poster"), save=False)
    video.save()
    return video
