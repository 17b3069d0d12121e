"""Writing frames to browser-friendly MP4 and reading videos back.

Needs only PyAV and Pillow (numpy for encoding), so the web tier can use `probe_video` too.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

if TYPE_CHECKING:
    import numpy as np

    from worker.catalogue.request import AudioTrack

# ffmpeg's AVCOL_* value for BT.709 primaries, transfer and matrix.
_BT709 = 1
_CRF = "18"  # visually near-lossless; the outputs are short, so size matters little
# "faster" encodes in about half the time of "medium" at the same CRF, for slightly larger
# files: the encode is time a user waits after the model is done.
_X264_PRESET = "faster"
# AAC-LC at 96 kb/s a channel: transparent for generated sound, small beside the picture.
_AAC_BITS_PER_CHANNEL = 96_000
_AAC_FRAME = 1024  # samples per AAC frame


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds."""

    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    size_bytes: int
    codec: str = ""
    pix_fmt: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # The first audio stream, if any ("" and zeros for a silent video).
    audio_codec: str = ""
    sample_rate: int = 0
    audio_channels: int = 0
    audio_duration_s: float = 0.0

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_codec)


@cache
def h264_encoder() -> str:
    """The H.264 encoder in PyAV's FFmpeg: libx264 in the PyPI wheels."""
    for name in ("libx264", "h264"):
        try:
            av.Codec(name, "w")
        except ValueError:  # av.codec.codec.UnknownCodecError
            continue
        return name
    raise RuntimeError("this PyAV build has no H.264 encoder")


def _even(frames: np.ndarray) -> np.ndarray:
    import numpy as np

    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    # Repeat the last row/column: yuv420p needs even sizes, and padding keeps every pixel as is.
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def encode_mp4(frames: np.ndarray, fps: int, path: Path, metadata: dict[str, str],
               audio: AudioTrack | None = None) -> VideoInfo:
    """Encode uint8 RGB frames (F, H, W, 3) as H.264/yuv420p MP4 with the moov atom first,
    and `audio` (if any) as AAC beside it, cut or padded with silence to the picture's length
    (`fitted_audio`) so that both end together.

    `metadata` goes into the container (e.g. "title", and "comment" holding the recipe as JSON).
    Odd sizes are padded by one pixel. The file appears at `path` only once complete.
    """
    import numpy as np

    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected frames shaped (F, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    if fps < 1:
        raise ValueError("fps must be at least 1")
    frames = _even(frames)
    height, width = frames.shape[1:3]

    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        # faststart moves the index to the front so browsers can play before the download ends.
        with av.open(
            str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as container:
            for key, value in metadata.items():
                container.metadata[key] = value
            stream = container.add_stream(
                h264_encoder(), rate=Fraction(fps), options={"crf": _CRF, "preset": _X264_PRESET}
            )
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.colorspace = _BT709
            stream.codec_context.color_primaries = _BT709
            stream.codec_context.color_trc = _BT709
            stream.codec_context.color_range = ColorRange.MPEG
            if audio is not None:
                _mux_audio(container, fitted_audio(audio, len(frames) / fps))
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame = frame.reformat(
                    format="yuv420p",
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return probe_video(path)


def fitted_audio(audio: AudioTrack, seconds: float) -> AudioTrack:
    """`audio` cut, or padded with silence, to `seconds` (to the sample), float32 (C, N)."""
    import numpy as np

    from worker.catalogue.request import AudioTrack

    samples = np.asarray(audio.samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or not 1 <= samples.shape[0] <= 2:
        raise ValueError(f"expected audio shaped (1 or 2 channels, samples), got {samples.shape}")
    if audio.sample_rate < 8000:
        raise ValueError(f"an audio sample rate of {audio.sample_rate} Hz is too low for AAC")
    wanted = round(seconds * audio.sample_rate)
    have = samples.shape[1]
    if have >= wanted:
        samples = samples[:, :wanted]
    else:
        samples = np.pad(samples, ((0, 0), (0, wanted - have)))
    return AudioTrack(np.ascontiguousarray(np.clip(samples, -1.0, 1.0)), audio.sample_rate)


def _mux_audio(container: av.container.OutputContainer, audio: AudioTrack) -> None:
    """Encode the whole track as AAC into `container` (the muxer interleaves it with the
    picture's packets by time)."""
    layout = "mono" if audio.channels == 1 else "stereo"
    stream = container.add_stream("aac", rate=audio.sample_rate, layout=layout)
    stream.bit_rate = _AAC_BITS_PER_CHANNEL * audio.channels
    samples = audio.samples
    for start in range(0, samples.shape[1], _AAC_FRAME):
        chunk = samples[:, start:start + _AAC_FRAME]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = audio.sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, audio.sample_rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def probe_video(path: Path) -> VideoInfo:
    """Read a video's stream facts and metadata with PyAV; counts frames by decoding if needed."""
    path = Path(path)
    with av.open(str(path), mode="r") as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        frame_count = stream.frames
        if not frame_count:
            frame_count = sum(1 for _ in container.decode(stream))
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = frame_count / fps if fps else 0.0
        audio = _audio_facts(container)
        return VideoInfo(
            **audio,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frame_count=frame_count,
            duration_s=duration_s,
            size_bytes=path.stat().st_size,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
            metadata=dict(container.metadata),
        )


def _audio_facts(container: av.container.InputContainer) -> dict[str, Any]:
    """The first audio stream's codec, rate, channels and length; empty for a silent file."""
    if not container.streams.audio:
        return {}
    stream = container.streams.audio[0]
    context = stream.codec_context
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = container.duration / av.time_base if container.duration else 0.0
    return {"audio_codec": context.name, "sample_rate": int(context.sample_rate or 0),
            "audio_channels": int(context.channels or 0), "audio_duration_s": duration}


def poster_jpeg(frame: np.ndarray, quality: int = 85) -> bytes:
    """A JPEG of one uint8 RGB frame (H, W, 3), e.g. the gallery's poster image."""
    buffer = io.BytesIO()
    Image.fromarray(frame).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
