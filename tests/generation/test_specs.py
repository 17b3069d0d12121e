"""Job specs: one validated description per task, refused before anything is stored."""

from __future__ import annotations

import uuid
from io import BytesIO
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation import lifecycle
from generation.inputs import load_media
from generation.models import InputRole, Job, JobInput, Upload, UploadKind, Video
from generation.presets import MAX_SEED
from generation.specs import (
    ImageToVideo,
    InputRef,
    SpecError,
    TextToVideo,
    build_spec,
    spec_class,
)
from tests.jobs import TINY_PARAMS, make_job, tiny_spec
from tests.videos import make_video

pytestmark = pytest.mark.django_db


def test_a_valid_spec_round_trips_through_the_job(owner):
    job = lifecycle.submit(owner, tiny_spec(seed=7))
    assert lifecycle.spec_of(job) == tiny_spec(seed=7)
    request = lifecycle.spec_of(job).to_request()
    assert (request.task, request.seed, request.width) == ("t2v", 7, 128)


@pytest.mark.parametrize(("change", "field"), [
    ({"seed": MAX_SEED + 1}, "seed"),
    ({"seed": -1}, "seed"),
    ({"width": 100}, "size"),
    ({"num_frames": 6}, "num_frames"),
    ({"steps": 0}, "steps"),
    ({"prompt": "   "}, "prompt"),
    ({"steps": "8"}, "steps"),
    ({"preset": "no-such-model"}, "preset"),
])
def test_submit_refuses_a_spec_that_does_not_validate(owner, change, field):
    with pytest.raises(SpecError) as refused:
        lifecycle.submit(owner, tiny_spec(**change))
    assert field in refused.value.errors
    assert not Job.objects.exists()


def test_a_task_the_preset_cannot_do_is_refused(owner):
    spec = ImageToVideo(preset="tiny", inputs=(InputRef(InputRole.START_IMAGE,
                                                        upload_id=_image_upload(owner).id),),
                        **TINY_PARAMS)
    errors = spec.errors()
    assert "cannot do image to video" in errors["preset"]
    assert "start_image" in errors  # tiny takes no image at all


def test_inputs_a_task_needs_are_required_and_others_refused():
    spec = build_spec("i2v", "tiny", TINY_PARAMS)
    assert spec_class("i2v") is ImageToVideo and isinstance(spec, ImageToVideo)
    t2v_with_image = TextToVideo(preset="tiny", inputs=(
        InputRef(InputRole.START_IMAGE, upload_id=uuid.uuid4()),), **TINY_PARAMS)
    assert "start_image" in t2v_with_image.errors()


def test_someone_elses_upload_cannot_be_an_input(owner, stranger, monkeypatch):
    theirs = _image_upload(stranger)
    # As if tiny took a start image, so that only ownership stands in the way.
    monkeypatch.setattr(TextToVideo, "roles", ImageToVideo.roles)
    monkeypatch.setattr("generation.specs.Preset.supports", lambda self, ability: True)
    spec = TextToVideo(preset="tiny", inputs=(InputRef(InputRole.START_IMAGE,
                                                       upload_id=theirs.id),), **TINY_PARAMS)
    with pytest.raises(SpecError, match="does not exist"):
        lifecycle.submit(owner, spec)
    assert not Job.objects.exists()


def _image_upload(owner, size=(40, 30), colour=(200, 10, 10)) -> Upload:
    buffer = BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    upload = Upload(owner=owner, kind=UploadKind.IMAGE, width=size[0], height=size[1])
    upload.file.save("x.png", ContentFile(buffer.getvalue()), save=False)
    upload.save()
    return upload


def _mp4_video(owner, tmp_path: Path, frames: int = 5) -> Video:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for n in range(frames):
            pixels = np.full((48, 64, 3), 30 * n, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    video = make_video(owner)
    video.file.save("clip.mp4", ContentFile(path.read_bytes()))
    return video


def test_a_jobs_media_are_decoded_in_their_roles(owner, tmp_path):
    image = _image_upload(owner)
    source = _mp4_video(owner, tmp_path)
    job = make_job(owner)
    Job.objects.filter(pk=job.pk).update(kind="v2v")
    JobInput.objects.create(job=job, role=InputRole.START_IMAGE, upload=image)
    JobInput.objects.create(job=job, role=InputRole.SOURCE_VIDEO, video=source)
    JobInput.objects.create(job=job, role=InputRole.REMIX_OF, video=source)  # lineage only
    media = load_media(job)
    assert set(media) == {InputRole.START_IMAGE, InputRole.SOURCE_VIDEO}
    # The start image is fitted to the job's size (a centred crop by default).
    assert media[InputRole.START_IMAGE][0].size == (TINY_PARAMS["width"], TINY_PARAMS["height"])
    frames = media[InputRole.SOURCE_VIDEO][0]
    assert frames.shape == (5, 48, 64, 3) and frames.dtype == np.uint8
    job.refresh_from_db()
    request = lifecycle.spec_of(job).to_request(media)
    assert request.task == "v2v" and request.video is frames
    assert request.image.getpixel((0, 0)) == (200, 10, 10)


def test_retry_keeps_the_inputs_and_the_remix_lineage(owner):
    source = make_video(owner)
    job = lifecycle.submit(owner, tiny_spec(), remix_of=source)
    lifecycle.cancel(job)
    job.refresh_from_db()
    again = lifecycle.retry(job)
    assert lifecycle.remix_source(again) == source
    assert lifecycle.spec_of(again) == lifecycle.spec_of(job)


def test_a_source_clip_that_cannot_be_read_fails_the_job_as_bad_input(owner, tmp_path):
    """A source video damaged after the job was queued: the job fails with the reader's
    message (bad input, not retried as an internal error)."""
    from worker.catalogue import ErrorCode, GenerationError

    source = _mp4_video(owner, tmp_path)
    job = make_job(owner)
    Job.objects.filter(pk=job.pk).update(kind="v2v", params={**job.params, "trim_start": 0.0,
                                                             "trim_end": None})
    JobInput.objects.create(job=job, role=InputRole.SOURCE_VIDEO, video=source)
    with source.file.open("wb") as stream:
        stream.write(b"\x00" * 256)
    job.refresh_from_db()
    with pytest.raises(GenerationError) as failed:
        load_media(job)
    assert failed.value.code == ErrorCode.BAD_PARAMETERS
    assert "The video cannot be read" in failed.value.message
