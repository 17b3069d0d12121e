"""Uploads and sound: a video's sound is kept (probed, stored with it, and there for edits);
a file of sound alone is refused with a sentence saying why."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.models import Upload
from generation.sound import has_sound, sound_of
from generation.uploads import SOUND_ONLY, UploadRefused, accept_upload
from tests.sound.media import heard, tone
from tests.sound.sources import RATE, mp4_with_sound, stepped_tone

pytestmark = pytest.mark.django_db


def _frames(count: int = 16) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (count, 96, 128, 3), dtype=np.uint8)


def _sound_only(fmt: str, codec: str) -> bytes:
    """A file of sound alone, written by PyAV (an M4A's AAC, a WebM's Opus, a WAV's PCM)."""
    buffer = io.BytesIO()
    track = tone(1.0, 48000, channels=1)
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(track.samples, format="fltp", layout="mono")
        frame.sample_rate = 48000
        frame.pts = 0
        if codec == "pcm_s16le":
            frame = av.AudioResampler(format="s16", layout="mono", rate=48000).resample(frame)[0]
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def test_a_video_with_sound_keeps_it(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = mp4_with_sound(_frames(), 8, stepped_tone(2))
    upload = accept_upload(owner, SimpleUploadedFile("clip.mp4", data))
    assert has_sound(upload)
    assert sound_of(upload) == {"codec": "aac", "sample_rate": RATE, "channels": 2,
                                "duration_s": pytest.approx(2.0, abs=0.01)}
    with upload.file.open("rb") as stream:
        kept = heard(stream)
    assert kept is not None and kept.sample_rate == RATE
    assert Upload.objects.get(pk=upload.pk).metadata["audio"]["codec"] == "aac"


def test_a_silent_video_has_no_sound(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = accept_upload(owner, SimpleUploadedFile("clip.mp4",
                                                     mp4_with_sound(_frames(), 8, None)))
    assert not has_sound(upload) and "audio" not in upload.metadata


@pytest.mark.parametrize(("name", "fmt", "codec"), [
    ("voice.m4a", "mp4", "aac"), ("voice.weba", "webm", "libopus"),
    ("voice.wav", "wav", "pcm_s16le")])
def test_sound_alone_is_refused_clearly_and_nothing_is_kept(owner, settings, tmp_path, name,
                                                          fmt, codec):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(UploadRefused) as refused:
        accept_upload(owner, SimpleUploadedFile(name, _sound_only(fmt, codec)))
    assert refused.value.message == SOUND_ONLY
    assert "no picture" in SOUND_ONLY
    assert not Upload.objects.filter(owner=owner).exists()


def test_an_mp3_is_refused_as_sound_alone(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64
    with pytest.raises(UploadRefused, match="sound file with no picture"):
        accept_upload(owner, SimpleUploadedFile("song.mp3", mp3))
