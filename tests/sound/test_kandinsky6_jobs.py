"""Kandinsky 6 end to end: the studio's form, a real Celery worker on the CPU loading each tiny
checkpoint (Lite, Pro and their distilled Previews) from the models folder through the
production loader, and a video with sound: PyAV reads an AAC stream at the model's rate, as
long as the picture to a frame. With sound off the file has none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.sound import has_sound
from tests.editing.sources import start_studio_worker
from tests.i2v.helpers import png_bytes as image_png
from tests.processes import Service
from tests.sound.test_sound_jobs import COMMON, assert_plays_with_sound, heard_in, run_job
from worker.catalogue import build_pipeline
from worker.catalogue.kandinsky6 import PRESETS

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
RATE = 16000  # the tiny audio VAE's (the real one's is 44.1 kHz)


@pytest.fixture(scope="module")
def k6_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    """A worker whose models folder holds every Kandinsky 6 preset's tiny checkpoint."""
    root = tmp_path_factory.mktemp("k6")
    for preset in PRESETS:
        build_pipeline(preset.id, "tiny", seed=0).save_pretrained(root / "models" / preset.id)
    service = start_studio_worker(
        root / "worker.log", FRAMECRAFT_MODELS_DIR=str(root / "models"),
        FRAMECRAFT_MEDIA_ROOT=str(root / "media"), HF_HOME=str(root / "hf"),
        HF_HUB_OFFLINE="1")
    yield service, root
    service.stop()


@pytest.fixture
def worker(k6_worker: tuple[Service, Path], settings, monkeypatch) -> Service:
    service, root = k6_worker
    settings.MEDIA_ROOT = root / "media"
    monkeypatch.setenv("FRAMECRAFT_MODELS_DIR", str(root / "models"))  # the web tier sees them
    return service


# Each preset at its smallest offered size and fewest frames; the Previews through the speed
# switch, as people pick them.
JOBS = [
    ("kandinsky6-lite", "t2v", "quality"),
    ("kandinsky6-pro", "i2v", "quality"),
    ("kandinsky6-lite", "i2v", "preview"),
    ("kandinsky6-pro", "t2v", "preview"),
]


@pytest.mark.parametrize(("preset", "task", "speed"), JOBS)
def test_each_preset_makes_a_video_with_sound_on_the_real_worker(
        owner_client, owner, worker, preset, task, speed):
    data = {**COMMON, "task": task, "preset": preset, "size": "768x512", "num_frames": "5",
            "speed": speed}
    if task == "i2v":
        data.update(fit="crop", start_file=SimpleUploadedFile("start.png", image_png((400, 240))))
    else:
        data["sound"] = "1"
    video = run_job(owner_client, owner, worker, data)
    got = assert_plays_with_sound(video, RATE)
    assert (got.channels, video.frame_count, video.width, video.height) == (1, 5, 768, 512)
    assert video.recipe["audio"]["origin"] == "model" and video.recipe["sound"] is True
    ran = f"{preset}-preview" if speed == "preview" else preset
    ran_steps = 10 if speed == "preview" else 2  # the distilled model runs its own 10
    assert video.job is not None
    assert (video.job.preset, video.recipe["acceleration"]["preset"],
            video.recipe["acceleration"]["steps"]) == (preset, ran, ran_steps)


def test_with_sound_off_the_video_has_no_track(owner_client, owner, worker):
    silent = run_job(owner_client, owner, worker, {
        **COMMON, "task": "t2v", "preset": "kandinsky6-lite", "size": "768x512",
        "num_frames": "5", "sound": "0"})
    assert heard_in(silent) is None and not has_sound(silent)
    assert silent.recipe["sound"] is False and "audio" not in silent.recipe
