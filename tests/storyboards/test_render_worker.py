"""Storyboards rendered by a real Celery worker on the CPU with the built-in demo models: each
shot a job in turn (a continuing shot an image-to-video job from the last frame of the shot
before), then the join on the models queue. The joined MP4 is read back with PyAV: every
shot's frames in order, the continuation colour-matched and blended over its one shared
frame, the sound crossfaded. Changing one shot makes only it and the shots continuing from it
again (the jobs are counted)."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest
from django.urls import reverse

from generation.models import InputRole, Job, JobStatus, Upload, Video
from storyboards.joining import Clip, decode, join_clips
from storyboards.models import RenderState, Shot, Storyboard
from tests.conftest import csrf_post
from tests.processes import Service, wait_for
from tests.storyboards.helpers import add_shot, shot_data, shots

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def rendered(client: Any, board: Storyboard, worker: Service) -> Video:
    """Press Render and wait for the joined video."""
    response = csrf_post(client, reverse("render_storyboard", args=[board.id]),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()[-2000:]

    def finished() -> bool:
        board.refresh_from_db()
        return board.state in (RenderState.DONE, RenderState.STOPPED) or any(
            shot.job is not None and shot.job.status in (JobStatus.FAILED,
                                                         JobStatus.CANCELLED)
            for shot in board.shots.select_related("job"))

    wait_for(finished, 300, "the storyboard to render", interval=0.3)
    assert board.state == RenderState.DONE, (board.message, worker.log()[-4000:])
    assert board.video is not None
    return board.video


def start_image(shot: Shot) -> Upload:
    """The upload a shot's job started from."""
    assert shot.job is not None
    upload = shot.job.inputs.get(role=InputRole.START_IMAGE).upload
    assert upload is not None
    return upload


def video_of(shot: Shot) -> Video:
    assert shot.video is not None
    return shot.video


def frames_of(video: Video) -> np.ndarray:
    with video.file.open("rb") as stream, av.open(stream) as container:
        return np.stack([frame.to_ndarray(format="rgb24")
                         for frame in container.decode(video=0)])


def three_shots(client: Any, owner: Any) -> Storyboard:
    """An opening with sound (LTX-2 demo), a shot continuing it, and a cut to a silent one
    (the tiny model)."""
    board = Storyboard.objects.create(owner=owner, title="Harbour")
    for data in (shot_data(prompt="a harbour at dawn", seed=1),
                 shot_data(prompt="the boats leave", transition="continue", seed=2),
                 shot_data(prompt="a gull overhead", preset="tiny", seed=3, transition="cut")):
        assert add_shot(client, board, **data).status_code == 200
    return board


def test_a_storyboard_renders_its_shots_in_turn_and_joins_them(owner_client, owner, worker):
    board = three_shots(owner_client, owner)
    video = rendered(owner_client, board, worker)

    first, second, third = shots(board)
    jobs = list(Job.objects.filter(owner=owner).order_by("created_at"))
    assert [(job.kind, job.preset) for job in jobs] == [
        ("t2v", "demo-ltx2"), ("i2v", "demo-ltx2"), ("t2v", "tiny")]
    assert [shot.job for shot in (first, second, third)] == jobs
    # The continuing shot started from the first shot's last frame, kept among the uploads.
    start = start_image(second)
    assert start == second.frame and start.metadata["frame_of"] == str(first.video_id)

    # Every shot's frames in order: 9 + 9 - 1 (the continuation's first frame is the opening's
    # last) + 9, at the shots' size and rate.
    assert (video.frame_count, video.width, video.height, video.fps) == (26, 128, 128, 8)
    joined = frames_of(video).astype(np.int16)
    assert joined.shape == (26, 128, 128, 3)
    parts = [frames_of(video_of(shot)).astype(np.int16) for shot in (first, second, third)]
    assert [len(part) for part in parts] == [9, 9, 9]

    def close(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean())

    # The opening and the cut are the shots' own frames, re-encoded once (noise-like demo
    # pictures lose a few levels to H.264; another shot's frames are tens of levels away).
    assert close(joined[:8], parts[0][:8]) < 8.0
    assert close(joined[17:], parts[2]) < 8.0
    # The continuation: colour-matched to the opening and blended over the shared frame, as
    # the join computes it from the shots' decoded frames.
    clips = [Clip(decode(video_of(shot))[0], 8, None, continuing)
             for shot, continuing in ((first, False), (second, True), (third, False))]
    expected, _, _ = join_clips(clips)
    assert close(joined, expected.astype(np.int16)) < 8.0
    # Each shot is its own picture: a shot's frames do not match another's place.
    assert close(joined[17:], parts[0]) > 3 * close(joined[17:], parts[2])

    # Sound where the shots have it (the LTX-2 demo's), silence under the tiny model's shot.
    with video.file.open("rb") as stream, av.open(stream) as container:
        assert container.streams.audio, "the joined video has no sound"
        audio = container.streams.audio[0]
        samples = np.concatenate([frame.to_ndarray().reshape(audio.codec_context.channels, -1)
                                  for frame in container.decode(audio)], axis=1)
        rate = audio.codec_context.sample_rate
    assert samples.shape[1] / rate == pytest.approx(26 / 8, abs=0.15)
    opening = np.abs(samples[:, : int(rate * 2.0)]).mean()
    cut = np.abs(samples[:, int(rate * 17.5 / 8):]).mean()
    assert opening > 0 and cut < opening / 10

    # In the lineage: the video names the storyboard and each shot's video; the page has the
    # site's share controls.
    assert video.job is None and video.owner == owner
    assert [shot["video"] for shot in video.recipe["shots"]] == [
        str(shot.video_id) for shot in (first, second, third)]
    page = owner_client.get(reverse("video_detail", args=[video.id])).content.decode()
    assert "Joined from the storyboard" in page
    assert reverse("video_detail", args=[second.video_id]) in page
    board_page = owner_client.get(reverse("storyboard", args=[board.id])).content.decode()
    assert reverse("video_file", args=[video.id]) in board_page
    assert reverse("share_video", args=[video.id]) in board_page


def test_changing_a_shot_makes_only_it_and_what_continues_from_it_again(
        owner_client, owner, worker):
    board = three_shots(owner_client, owner)
    before = rendered(owner_client, board, worker)
    first, second, third = shots(board)
    assert Job.objects.filter(owner=owner).count() == 3

    # Nothing changed: Render again makes nothing and keeps the video.
    assert rendered(owner_client, board, worker) == before
    assert Job.objects.filter(owner=owner).count() == 3

    # The cut shot alone changes: one job, the others reused.
    csrf_post(owner_client, reverse("edit_shot", args=[board.id, third.id]),
              shot_data(prompt="two gulls overhead", preset="tiny", seed=3),
              HTTP_HX_REQUEST="true")
    after_cut = rendered(owner_client, board, worker)
    new = list(Job.objects.filter(owner=owner).order_by("created_at")[3:])
    assert [(job.kind, job.params["prompt"]) for job in new] == [("t2v", "two gulls overhead")]
    kept = shots(board)
    assert (kept[0].video_id, kept[1].video_id) == (first.video_id, second.video_id)
    assert kept[2].video_id != third.video_id and after_cut != before

    # The opening changes: it and the shot continuing from it are made again, not the cut.
    csrf_post(owner_client, reverse("edit_shot", args=[board.id, first.id]),
              shot_data(prompt="a harbour at noon", seed=1), HTTP_HX_REQUEST="true")
    rendered(owner_client, board, worker)
    new = list(Job.objects.filter(owner=owner).order_by("created_at")[4:])
    assert [(job.kind, job.params["prompt"]) for job in new] == [
        ("t2v", "a harbour at noon"), ("i2v", "the boats leave")]
    latest = shots(board)
    assert latest[2].video_id == kept[2].video_id
    assert latest[1].video_id != second.video_id
    assert start_image(latest[1]).metadata["frame_of"] == str(latest[0].video_id)
    assert Job.objects.filter(owner=owner).count() == 6
