"""The Transfer motion form and its routes refuse what cannot be, each with its message, and
leave nothing behind: an unknown control kind, another user's video (404), a file with no
video stream, an image as the source, a clip past the source's end, a missing helper model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import ControlPreview, Job, Upload
from generation.specs import TransferMotion, build_spec
from tests.conftest import csrf_post
from tests.editing.sources import image_upload, source_video
from worker.catalogue.helpers import save_helper
from worker.editing.clip import ClipError, clip_frames

PRESET = "wan2.1-vace-1.3b"
pytestmark = pytest.mark.django_db


@pytest.fixture
def vace(models: Path, settings, tmp_path) -> Path:
    """VACE reads as installed (an empty pipeline index is a complete checkpoint)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (models / PRESET).mkdir()
    (models / PRESET / "model_index.json").write_text('{"_class_name": "WanVACEPipeline"}')
    return models


def _form(**overrides: str) -> dict[str, str]:
    data = {"task": "control", "preset": PRESET, "prompt": "a glass cube",
            "negative_prompt": "", "size": "832x480", "num_frames": "5", "steps": "2",
            "guidance": "1.0", "seed": "3", "control": "canny", "conditioning_scale": "1",
            "start_s": "0"}
    data.update(overrides)
    return data


def _refused(client, data, field_text: str) -> str:
    response = csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    text = response.content.decode()
    assert field_text in text, text
    assert not Job.objects.filter(kind="control").exists()
    return text


def test_the_task_switch_offers_transfer_motion(owner_client, vace):
    text = owner_client.get(reverse("studio")).content.decode()
    assert "Transfer motion" in text
    form = owner_client.get(reverse("generation_form") + "?task=control").content.decode()
    assert "Keep from the source" in form and "Edges (Canny)" in form and "Optical flow" in form


def test_an_unknown_control_kind_is_refused(owner_client, owner, vace):
    source = source_video(owner)
    _refused(owner_client, _form(control="scribble", source_video=str(source.id)),
             "Select a valid choice. scribble is not one of the available choices.")
    response = csrf_post(owner_client, reverse("control_preview"),
                         _form(control="scribble", source_video=str(source.id)))
    assert response.status_code == 422 and b"Choose a control track among" in response.content
    assert not ControlPreview.objects.exists()


def test_another_users_video_is_not_found(owner_client, stranger, vace):
    theirs = source_video(stranger)
    studio = owner_client.get(reverse("studio") + f"?task=control&source_video={theirs.id}")
    assert studio.status_code == 404
    preview = csrf_post(owner_client, reverse("control_preview"),
                        _form(source_video=str(theirs.id)))
    assert preview.status_code == 404
    _refused(owner_client, _form(source_video=str(theirs.id)), "No such video of yours.")
    assert not ControlPreview.objects.exists()


def _audio_only() -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 16000, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_file_with_no_video_stream_is_refused_and_not_kept(owner_client, owner, vace):
    file = SimpleUploadedFile("sound.mp4", _audio_only(), content_type="video/mp4")
    _refused(owner_client, _form(source_file=file), "This is a sound file with no picture.")
    assert not Upload.objects.exists()
    with pytest.raises(ClipError, match=r"The file has no video stream\."):
        clip_frames(io.BytesIO(_audio_only()), start_s=0, fps=16, count=5)


def test_an_image_is_not_a_source_video(owner_client, owner, vace):
    image = image_upload(owner)
    _refused(owner_client, _form(source_upload=str(image.id)), "No such video of yours.")


def test_a_clip_past_the_sources_end_says_how_far_it_reaches(owner_client, owner, vace):
    source = source_video(owner, frames=12, fps=16)  # 0.75 s
    text = _refused(owner_client, _form(source_video=str(source.id), num_frames="9",
                                        start_s="0.5"),
                    "9 frames at 16 fps from 0.5 s reach 1.00 s, past the source&#x27;s end "
                    "at 0.75 s")
    assert "start earlier or make it shorter" in text


def test_depth_without_its_helper_model_asks_for_an_admin(owner_client, owner, vace,
                                                          monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")  # no demo helper stands in
    source = source_video(owner)
    _refused(owner_client, _form(source_video=str(source.id), control="depth"),
             "Depth needs Depth Anything V2 Small, which is not installed")
    save_helper("depth-anything-v2-small", vace / "depth-anything-v2-small")
    response = csrf_post(owner_client, reverse("submit_job"),
                         _form(source_video=str(source.id), control="depth"),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = Job.objects.get(kind="control")
    assert job.kind == "control" and job.params["control"] == "depth"


def test_the_spec_round_trips_through_the_jobs_params(owner, vace):
    source = source_video(owner)
    job_params = json.loads(json.dumps({"prompt": "p", "negative_prompt": "", "width": 832,
                                        "height": 480, "num_frames": 5, "steps": 2,
                                        "guidance": 1.0, "seed": 1, "control": "flow",
                                        "conditioning_scale": 0.5, "start_s": 0.0}))
    spec = build_spec("control", PRESET, job_params)
    assert isinstance(spec, TransferMotion) and spec.control == "flow"
    request = spec.to_request({})
    assert request.task == "control" and request.conditioning_scale == 0.5
    assert source.duration_s == 0.75
    bad = TransferMotion(**{**spec.__dict__, "conditioning_scale": 3.0})
    assert bad.errors()["conditioning_scale"] == "The conditioning scale must be between 0 and 2."


def test_a_preview_left_undrawn_is_asked_for_again_and_goes_with_its_source(
        owner, vace, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from generation.control_previews import request_preview
    from generation.models import JobStatus

    source = source_video(owner)
    preview = request_preview(owner, source, control="grey", start_s=0, num_frames=5, fps=16)
    assert preview.status == JobStatus.QUEUED
    ControlPreview.objects.filter(pk=preview.pk).update(
        status=JobStatus.RUNNING, created_at=timezone.now() - timedelta(minutes=11))
    again = request_preview(owner, source, control="grey", start_s=0, num_frames=5, fps=16)
    assert again.pk == preview.pk and again.status == JobStatus.QUEUED
    fresh = request_preview(owner, source, control="grey", start_s=0, num_frames=5, fps=16)
    assert fresh.status == JobStatus.QUEUED and ControlPreview.objects.count() == 1

    fresh.file.save("preview.mp4", ContentFile(b"mp4"))
    storage, name = fresh.file.storage, fresh.file.name
    with django_capture_on_commit_callbacks(execute=True):
        source.delete()
    assert not ControlPreview.objects.exists() and not storage.exists(name)


def test_a_video_sent_with_the_form_becomes_the_source(owner_client, owner, vace):
    from generation.models import InputRole, JobInput
    from tests.uploads.files import video

    file = SimpleUploadedFile("dance.mp4", video(seconds=1.0, fps=16), content_type="video/mp4")
    response = csrf_post(owner_client, reverse("submit_job"), _form(source_file=file),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    upload = Upload.objects.get(owner=owner)
    assert (upload.kind, upload.original_name) == ("video", "dance.mp4")
    row = JobInput.objects.get(job__kind="control")
    assert (row.role, row.upload_id) == (InputRole.SOURCE_VIDEO, upload.id)
    # The fresh form keeps the source, so a variation is one click away.
    assert f'value="{upload.id}"' in response.content.decode()


def test_a_phone_videos_control_preview_comes_out_upright(owner, settings, tmp_path):
    """A portrait video is stored turned, with its rotation in the file; the preview (and the
    control track and a tracked mask, which decode through the same reader) is upright, as
    the studio's player shows it: the stored frame's top-left square ends at the bottom left."""
    from generation.uploads import accept_upload
    from tests.uploads.files import uploaded, video
    from worker.control_preview import make_preview

    settings.MEDIA_ROOT = tmp_path / "media"
    upload = accept_upload(owner, uploaded(video(seconds=0.5, rotation=90), "phone.mp4"))
    assert (upload.width, upload.height) == (96, 128)
    preview = ControlPreview.objects.create(owner=owner, upload=upload, control="grey",
                                            start_s=0.0, num_frames=3, fps=12)
    assert make_preview(str(preview.id)) == "succeeded"
    preview.refresh_from_db()
    with preview.file.open("rb") as stream, av.open(stream) as container:
        first = next(iter(container.decode(video=0))).to_ndarray(format="gray").astype(float)
    height, width = first.shape
    assert (width, height) == (96, 128)
    bottom_left = first[height // 2 + 8:, : width // 2 - 8].mean()
    top_left = first[: height // 2 - 8, : width // 2 - 8].mean()
    assert bottom_left > top_left + 40, (bottom_left, top_left)
