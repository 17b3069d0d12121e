""""Animate a frame" on a video's page: the exact frame the scrubber names becomes the owner's
upload and the start image of the studio's image form; strangers get 404, and a POST needs
its CSRF token."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files import File
from django.test import Client
from django.urls import reverse
from PIL import Image

from generation.models import Upload, Video
from tests.conftest import csrf_post
from tests.videos import make_video
from worker.runtime.encode import encode_mp4

pytestmark = pytest.mark.django_db
FRAMES = 6


@pytest.fixture
def video(owner, settings, tmp_path: Path) -> Video:
    """A real H.264 clip whose frames are far apart in colour."""
    settings.MEDIA_ROOT = tmp_path / "media"
    frames = np.zeros((FRAMES, 96, 128, 3), np.uint8)
    for index in range(FRAMES):
        frames[index] = (40 * index, 250 - 40 * index, 128)
    path = tmp_path / "clip.mp4"
    encode_mp4(frames, 8, path, metadata={})
    made = make_video(owner)
    made.frame_count = FRAMES
    with path.open("rb") as stream:
        made.file.save("clip.mp4", File(stream))  # saves the row too
    return made


def _decoded(video: Video) -> list[np.ndarray]:
    with video.file.open("rb") as stream, av.open(stream) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_chosen_frame_becomes_the_start_image_of_the_image_form(owner_client, owner,
                                                                    video):
    answer = csrf_post(owner_client, reverse("animate_frame", args=[video.id]), {"frame": "3"})
    assert answer.status_code == 302
    upload = Upload.objects.get(owner=owner)
    assert (upload.kind, upload.width, upload.height) == ("image", 128, 96)
    assert upload.metadata["frame_of"] == str(video.id) and upload.metadata["frame"] == 3
    with upload.file.open("rb") as stream, Image.open(stream) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    frames = _decoded(video)
    assert np.array_equal(pixels, frames[3])  # that very frame, decoded the same way
    assert np.abs(pixels - frames[2]).mean() > 20 and np.abs(pixels - frames[4]).mean() > 20
    studio = owner_client.get(answer["Location"]).content.decode()
    assert 'value="i2v" checked' in studio and f'value="{upload.id}"' in studio
    assert "a lighthouse at dusk" in studio  # the video's prompt


def test_the_video_page_has_the_scrubber(owner_client, video):
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert reverse("animate_frame", args=[video.id]) in page
    assert 'type="range"' in page and f'max="{FRAMES - 1}"' in page
    assert "js/frame-scrubber.js" in page and "style=" not in page


@pytest.mark.parametrize("frame", ["6", "-1", "later", ""])
def test_a_frame_outside_the_video_is_refused_with_no_upload(owner_client, video, frame):
    answer = csrf_post(owner_client, reverse("animate_frame", args=[video.id]),
                       {"frame": frame}, follow=True)
    assert "Pick a frame from 0 to 5." in answer.content.decode()
    assert not Upload.objects.exists()


def test_a_stranger_gets_404_and_a_post_without_its_token_403(stranger_client, owner, video):
    answer = csrf_post(stranger_client, reverse("animate_frame", args=[video.id]),
                       {"frame": "1"})
    assert answer.status_code == 404
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("animate_frame", args=[video.id]),
                       {"frame": "1"}).status_code == 403
    assert not Upload.objects.exists()
