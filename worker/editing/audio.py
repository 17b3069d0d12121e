"""A source video's sound, cut and joined as its pictures are, so that an edit, a restyle, a
motion transfer or an extension keeps the sound in sync with the frames it keeps.

Times are measured as worker.editing.clip measures frames: from the video's first frame, so
that a clip's sound starts where its first frame does even when the file's audio starts a
little earlier or later. Django-free.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from worker.catalogue.request import AudioTrack

# A cut with no other sound to fade into fades out over this long: no click, no audible dip.
FADE_S = 0.02


def read_audio(stream: Any, start_s: float = 0.0, duration_s: float | None = None
               ) -> AudioTrack | None:
    """The first audio stream of a video file from `start_s` for `duration_s` seconds (to its
    end when None), counted from the first video frame; None when the file has no sound.
    Mono stays mono, anything else becomes stereo, at the stream's own rate; where the audio
    stream stops short, the rest is silence."""
    with av.open(stream) as container:
        if not container.streams.audio:
            return None
        audio = container.streams.audio[0]
        rate = int(audio.codec_context.sample_rate or 0)
        channels = 1 if (audio.codec_context.channels or 0) == 1 else 2
        if rate <= 0:
            return None
        origin = _first_video_time(container)
        resampler = av.AudioResampler(format="fltp", layout=_layout(channels), rate=rate)
        chunks: list[np.ndarray] = []
        first: float | None = None
        for frame in container.decode(audio):
            if first is None:
                first = float(frame.time) if frame.time is not None else 0.0
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(channels, -1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(channels, -1))
    if not chunks:
        return None
    track = AudioTrack(np.concatenate(chunks, axis=1).astype(np.float32), rate)
    # Where the decoded sound sits on the video's clock.
    offset = (first or 0.0) - origin
    length = track.duration_s + offset - start_s if duration_s is None else duration_s
    return segment(track, start_s - offset, max(0.0, length))


def _first_video_time(container: av.container.InputContainer) -> float:
    if not container.streams.video:
        return 0.0
    video = container.streams.video[0]
    if video.start_time is None or video.time_base is None:
        return 0.0
    return float(video.start_time * video.time_base)


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def segment(track: AudioTrack, start_s: float, duration_s: float) -> AudioTrack:
    """`duration_s` of `track` from `start_s` (which may be negative, or run past its end:
    silence fills what the track does not cover)."""
    rate = track.sample_rate
    begin = round(start_s * rate)
    count = round(duration_s * rate)
    out = np.zeros((track.channels, count), dtype=np.float32)
    source = track.samples
    lo, hi = max(0, begin), min(source.shape[1], begin + count)
    if hi > lo:
        out[:, lo - begin:hi - begin] = source[:, lo:hi]
    return AudioTrack(out, rate)


def converted(track: AudioTrack, sample_rate: int, channels: int) -> AudioTrack:
    """`track` at another rate (PyAV's resampler) and channel count (mono copied to both
    sides, stereo averaged to one)."""
    samples = track.samples
    if channels != track.channels:
        samples = (np.repeat(samples, 2, axis=0) if channels == 2
                   else samples.mean(axis=0, keepdims=True))
    if sample_rate == track.sample_rate:
        return AudioTrack(np.ascontiguousarray(samples, dtype=np.float32), sample_rate)
    layout = _layout(channels)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32),
                                       format="fltp", layout=layout)
    frame.sample_rate = track.sample_rate
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    parts = [out.to_ndarray().reshape(channels, -1)
             for out in [*resampler.resample(frame), *resampler.resample(None)]]
    resampled = np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)
    wanted = round(samples.shape[1] * sample_rate / track.sample_rate)
    return segment(AudioTrack(resampled.astype(np.float32), sample_rate), 0.0,
                   wanted / sample_rate)


def join(source: AudioTrack, generated: AudioTrack, overlap_s: float) -> AudioTrack:
    """The source's sound followed by the continuation's, whose first `overlap_s` seconds
    cover the source's last ones (as join.join lays the frames): crossfaded over the overlap
    with equal-power curves, so the cut neither clicks nor dips. At the source's rate and
    channels."""
    generated = converted(generated, source.sample_rate, source.channels)
    rate = source.sample_rate
    overlap = min(round(overlap_s * rate), source.samples.shape[1], generated.samples.shape[1])
    head, tail = source.samples, generated.samples
    if overlap <= 0:
        return AudioTrack(np.concatenate([head, tail], axis=1), rate)
    ramp = (np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)) * (np.pi / 2)
    bridge = head[:, -overlap:] * np.cos(ramp) + tail[:, :overlap] * np.sin(ramp)
    return AudioTrack(np.concatenate([head[:, :-overlap], bridge, tail[:, overlap:]], axis=1)
                      .astype(np.float32), rate)


def then_silence(source: AudioTrack, duration_s: float, fade_s: float = FADE_S) -> AudioTrack:
    """The source's sound faded out over its last `fade_s` seconds, then silence up to
    `duration_s` in all: an extension by a model that makes no sound, keeping the original's."""
    samples = source.samples.copy()
    fade = min(round(fade_s * source.sample_rate), samples.shape[1])
    if fade:
        samples[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return segment(AudioTrack(samples, source.sample_rate), 0.0, duration_s)


def edge_step(track: AudioTrack, at_s: float) -> float:
    """The largest jump between neighbouring samples within 2 ms of `at_s`: a click at a cut
    shows as a step far above the sound's own."""
    at = round(at_s * track.sample_rate)
    reach = max(2, round(0.002 * track.sample_rate))
    window = track.samples[:, max(0, at - reach):at + reach]
    return float(np.abs(np.diff(window, axis=1)).max()) if window.shape[1] > 1 else 0.0
