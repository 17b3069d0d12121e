"""Sound for the tests: tones whose pitch says where in the clip a sample came from, and
PyAV readings of a file's audio stream."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from worker.catalogue.request import AudioTrack


def tone(seconds: float, rate: int = 16000, hz: float = 440.0, channels: int = 2,
         level: float = 0.5) -> AudioTrack:
    """A sine tone (both channels alike)."""
    t = np.arange(round(seconds * rate)) / rate
    wave = (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return AudioTrack(np.repeat(wave[None], channels, axis=0), rate)


def ramp(seconds: float, rate: int = 16000) -> AudioTrack:
    """A stereo ramp from -0.5 to 0.5: each sample's value says when it sounds."""
    count = round(seconds * rate)
    wave = np.linspace(-0.5, 0.5, count, dtype=np.float32)
    return AudioTrack(np.stack([wave, wave]), rate)


@dataclass(frozen=True)
class Heard:
    """A file's audio stream as PyAV reads and decodes it."""

    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    video_duration_s: float
    fps: float
    samples: np.ndarray  # decoded, (channels, n), float32


def heard(source: Path | Any) -> Heard | None:
    """The first audio stream of a file (a path or an open binary stream); None if silent."""
    with av.open(str(source) if isinstance(source, Path) else source) as container:
        if not container.streams.audio:
            return None
        audio, video = container.streams.audio[0], container.streams.video[0]
        duration = float(audio.duration * audio.time_base)
        video_duration = float(video.duration * video.time_base)
        fps = float(video.average_rate)
        chunks = [frame.to_ndarray().reshape(audio.codec_context.channels, -1)
                  for frame in container.decode(audio)]
        return Heard(audio.codec_context.name, audio.codec_context.sample_rate,
                     audio.codec_context.channels, duration, video_duration, fps,
                     np.concatenate(chunks, axis=1))


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """The loudest frequency of a stretch of sound (its first channel)."""
    spectrum = np.abs(np.fft.rfft(samples[0] * np.hanning(samples.shape[1])))
    return float(np.fft.rfftfreq(samples.shape[1], 1 / rate)[int(spectrum.argmax())])
