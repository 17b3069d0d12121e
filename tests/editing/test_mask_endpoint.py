"""The mask editor's tracking endpoint: clicks on a source video become a lossless mask video
among the owner's uploads, made by a real worker on the models queue with a tiny SAM 2; bad
clicks, another user's video and bad clips are refused with nothing created."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from django.urls import reverse

from generation.models import JobStatus, MaskTracking, Upload
from tests.conftest import csrf_post
from tests.editing.sources import source_video, start_studio_worker
from tests.processes import wait_for
from worker.catalogue.helpers import save_helper

SAM = "sam2.1-hiera-tiny"


def _ask(client, source, **overrides):
    data = {"source_video": str(source.id), "clicks": json.dumps([[0, 40, 30, True]]),
            "start_s": "0", "num_frames": "4", "fps": "16"}
    data.update(overrides)
    return csrf_post(client, reverse("track_mask"), data)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_clicks_become_a_lossless_mask_upload_on_the_real_worker(owner_client, owner, models,
                                                                 tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    save_helper(SAM, models / SAM)
    source = source_video(owner, frames=8)
    worker = start_studio_worker(tmp_path / "worker.log", FRAMECRAFT_MODELS_DIR=str(models))
    try:
        response = _ask(owner_client, source, clicks=json.dumps(
            [[0, 40, 30, True], [2, 5, 5, False]]))
        assert response.status_code == 202
        state = response.json()
        assert state["status"] == "queued"

        def done() -> dict | None:
            polled = owner_client.get(state["status_url"]).json()
            return polled if polled["status"] in ("succeeded", "failed") else None

        final = wait_for(done, 180, "the mask tracking")
    finally:
        worker.stop()
    assert final["status"] == "succeeded", (final, worker.log())
    mask = Upload.objects.get(pk=final["mask_upload"])
    assert mask.owner == owner and mask.kind == "video"
    assert (mask.width, mask.height, mask.frame_count) == (160, 96, 4)
    assert mask.metadata["mask_of"] == str(source.id)
    with mask.file.open("rb") as stream, av.open(stream) as container:
        frames = np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    assert frames.shape == (4, 96, 160)
    assert set(np.unique(frames)) <= {0, 255}  # lossless: nothing but the two values
    assert owner_client.get(final["mask_url"]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "message"), [
    ({"clicks": json.dumps([[0, 160, 10, True]])},
     "Click 1 at (160, 10) is outside the 160 × 96 frame."),
    ({"clicks": json.dumps([[4, 10, 10, True]])},
     "Click 1 is on frame 4; the clip has frames 0 to 3."),
    ({"clicks": "[[0, 10"}, "Clicks are a list of [frame, x, y, positive]."),
    ({"clicks": "[]"}, "Click on what the mask should follow."),
    ({"num_frames": "0"}, "Give a frame rate of 1 or more, a start of 0 s or more and 1 to 257"),
    ({"start_s": "0.5", "num_frames": "9"}, "The clip reaches past the video's end at 0.75 s."),
    ({"fps": "fast"}, "Fps must be a number."),
])
def test_bad_requests_are_refused_with_nothing_created(owner_client, owner, models, overrides,
                                                       message, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    response = _ask(owner_client, source_video(owner), **overrides)
    assert response.status_code == 422
    assert message in response.json()["error"]
    assert not MaskTracking.objects.exists()


@pytest.mark.django_db
def test_another_users_video_and_tracking_are_not_found(owner_client, stranger, stranger_client,
                                                        owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    assert _ask(owner_client, source_video(stranger)).status_code == 404
    assert not MaskTracking.objects.exists()
    mine = MaskTracking.objects.create(owner=owner, clicks=[], num_frames=4, fps=16,
                                       status=JobStatus.SUCCEEDED)
    assert stranger_client.get(reverse("mask_tracking", args=[mine.id])).status_code == 404
    assert owner_client.get(reverse("mask_tracking", args=[mine.id])).status_code == 200


@pytest.mark.django_db
def test_it_needs_the_csrf_token(owner_client, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    source = source_video(owner)
    response = owner_client.post(reverse("track_mask"), {
        "source_video": str(source.id), "clicks": "[[0, 1, 1, true]]", "num_frames": "4",
        "fps": "16"})
    assert response.status_code == 403
    assert not MaskTracking.objects.exists()
