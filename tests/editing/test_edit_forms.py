"""The edit studio's forms through the real submit view: what a person sees when the input is
wrong (the message, and nothing created), and what is stored when it is right."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import InputRole, Job, JobInput, Upload
from tests.conftest import csrf_post
from tests.editing.conftest import VACE, gallery_video, mask_upload
from tests.editing.media import (
    audio_only_mp4,
    mp4_bytes,
    numbered_frames,
    png_bytes,
    rect_mask,
)

pytestmark = pytest.mark.django_db


def edit_data(source, task: str = "edit", **overrides: Any) -> dict[str, Any]:
    data = {"task": task, "preset": VACE, "prompt": "a red sailing boat",
            "negative_prompt": "", "size": "832x480", "num_frames": "5", "steps": "2",
            "guidance": "5.0", "seed": "3", "source_video": str(source.id), "trim_start": "",
            "trim_end": "", "mode": "change", "grow": "0", "feather": "0", "anchor": "centre",
            "context_frames": "5", "join": "1", "strength": "0.6"}
    data.update(overrides)
    return data


def submit(client, data: dict[str, Any]):
    client.get(reverse("edit_studio"))  # the CSRF cookie
    return csrf_post(client, reverse("submit_job"), data, HTTP_HX_REQUEST="true")


def refused(client, data: dict[str, Any], message: str) -> None:
    uploads_before = Upload.objects.count()
    response = submit(client, data)
    page = response.content.decode()
    assert response.status_code == 422, page
    assert message in page, page
    assert not Job.objects.exclude(status="succeeded").exists()
    assert Upload.objects.count() == uploads_before


def mask_png(box=(10, 10, 40, 40), size=(96, 64)) -> SimpleUploadedFile:
    return SimpleUploadedFile("mask.png", png_bytes(rect_mask(*size, box)), "image/png")


# --- Choosing the source ----------------------------------------------------------------------

def test_the_video_page_offers_edit_and_extend(owner_client, source):
    page = owner_client.get(reverse("video_detail", args=[source.id])).content.decode()
    assert f'{reverse("edit_studio")}?video={source.id}"' in page
    assert f'{reverse("edit_studio")}?video={source.id}&amp;task=extend"' in page


def test_the_edit_studio_shows_the_source_as_a_player(owner_client, source, vace_installed):
    page = owner_client.get(reverse("edit_studio"), {"video": source.id, "task": "edit"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f'src="{reverse("video_file", args=[source.id])}"' in html
    assert "data-mask-canvas" in html and 'name="mask_file"' in html
    assert 'value="edit" checked' in html


def test_an_uploaded_video_is_edited_from_my_uploads(owner, owner_client, media_root):
    upload = Upload.objects.create(owner=owner, kind="video", width=96, height=64,
                                   frame_count=16, fps=8, metadata={"duration": 2.0})
    listing = owner_client.get(reverse("uploads")).content.decode()
    assert f'{reverse("edit_studio")}?upload={upload.id}"' in listing
    page = owner_client.get(reverse("edit_studio"), {"upload": upload.id}).content.decode()
    assert f'src="{reverse("upload_file", args=[upload.id])}"' in page


def test_a_strangers_video_is_not_found(stranger_client, stranger, source, vace_installed):
    page = stranger_client.get(reverse("edit_studio"), {"video": source.id})
    assert page.status_code == 404
    refused(stranger_client, edit_data(source, mask_file=mask_png()),
            "There is no such video of yours.")


def test_the_size_nearest_the_sources_shape_and_the_longest_length_are_preselected(
        owner_client, owner, media_root, vace_installed):
    tall = gallery_video(owner, numbered_frames(8, width=64, height=96), fps=8)  # 1 s
    html = owner_client.get(reverse("edit_studio"), {"video": tall.id, "task": "edit"}
                            ).content.decode()
    assert '<option value="480x832" selected>' in html
    assert '<option value="13" selected>' in html  # 16 frames at 16 fps: 13 is the most


# --- Masked edits -----------------------------------------------------------------------------

def test_a_drawn_mask_is_stored_losslessly_in_the_mask_role(owner, owner_client, source,
                                                          vace_installed):
    response = submit(owner_client, edit_data(source, mask_file=mask_png(), grow="4",
                                              feather="6"))
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner, kind="edit")
    assert job.params | {"mode": "change", "grow": 4, "feather": 6} == job.params
    row = JobInput.objects.get(job=job, role=InputRole.MASK)
    with row.upload.file.open("rb") as stream:
        stored = stream.read()
    from io import BytesIO

    from PIL import Image

    pixels = np.asarray(Image.open(BytesIO(stored)).convert("L"))
    assert (pixels == rect_mask(96, 64, (10, 10, 40, 40))).all()  # PNG: bit for bit
    assert JobInput.objects.get(job=job, role=InputRole.SOURCE_VIDEO).video == source


def test_a_mask_of_another_size_is_refused(owner_client, source, vace_installed):
    refused(owner_client, edit_data(source, mask_file=mask_png(size=(80, 64))),
            "The mask is 80 × 64; the video is 96 × 64.")


def test_a_mask_video_of_another_length_is_refused(owner_client, source, vace_installed):
    clip = mp4_bytes(numbered_frames(10), fps=8)
    refused(owner_client, edit_data(source, mask_file=SimpleUploadedFile("m.mp4", clip)),
            "The mask video has 10 frames; the video has 16.")


def test_an_empty_mask_is_refused(owner_client, source, vace_installed):
    empty = SimpleUploadedFile("mask.png", png_bytes(np.zeros((64, 96), np.uint8)))
    refused(owner_client, edit_data(source, mask_file=empty),
            "The mask is empty: mark the area to change.")


def test_a_masked_edit_needs_a_mask(owner_client, source, vace_installed):
    refused(owner_client, edit_data(source), "Mark the area to change on a frame of the video")


def test_keeping_the_whole_frame_leaves_nothing_to_change(owner_client, source,
                                                          vace_installed):
    full = SimpleUploadedFile("mask.png", png_bytes(np.full((64, 96), 255, np.uint8)))
    refused(owner_client, edit_data(source, mode="keep", mask_file=full),
            "there is nothing left to change")


def test_someone_elses_mask_is_refused(owner_client, stranger, source, vace_installed):
    theirs = mask_upload(stranger, rect_mask(96, 64, (0, 0, 20, 20)))
    refused(owner_client, edit_data(source, mask=str(theirs.id)),
            "There is no such mask of yours.")


# --- Clips and files --------------------------------------------------------------------------

def test_a_clip_longer_than_the_model_takes_must_be_trimmed(owner, owner_client, media_root):
    # tiny restyles at most 81 frames: 10.1 s at its 8 fps.
    long = gallery_video(owner, numbered_frames(96), fps=8)  # 12 s
    data = edit_data(long, task="v2v", preset="tiny", size="128x128", num_frames="17")
    refused(owner_client, data, "This clip is 12.0 s long (96 frames at 8 fps); Tiny")
    response = submit(owner_client, {**data, "trim_start": "2", "trim_end": "6"})
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner, kind="v2v")
    assert (job.params["trim_start"], job.params["trim_end"], job.params["strength"]) == (
        2.0, 6.0, 0.6)


def test_a_clip_shorter_than_the_length_asked_is_refused(owner_client, source):
    data = edit_data(source, task="v2v", preset="tiny", size="128x128", num_frames="33",
                     trim_end="1")
    refused(owner_client, data, "The clip has 8 frames at 8 fps (1.0 s); the job asks for 33.")


def test_a_truncated_video_is_refused(owner_client, source):
    whole = mp4_bytes(numbered_frames(16), fps=8, lossless=False)
    data = edit_data(source, task="v2v", preset="tiny", size="128x128", num_frames="5",
                     source_video="",
                     source_file=SimpleUploadedFile("cut.mp4", whole[: len(whole) * 2 // 3]))
    refused(owner_client, data, "This video is damaged or incomplete")


def test_a_file_with_no_video_stream_is_refused(owner_client, source):
    data = edit_data(source, task="v2v", preset="tiny", size="128x128", num_frames="5",
                     source_video="",
                     source_file=SimpleUploadedFile("song.mp4", audio_only_mp4()))
    refused(owner_client, data, "This is a sound file with no picture.")


def test_a_video_sent_with_the_form_becomes_the_source(owner, owner_client, source):
    clip = mp4_bytes(numbered_frames(16), fps=8)
    data = edit_data(source, task="v2v", preset="tiny", size="128x128", num_frames="5",
                     source_video="", source_file=SimpleUploadedFile("mine.mp4", clip))
    assert submit(owner_client, data).status_code == 200
    job = Job.objects.get(owner=owner, kind="v2v")
    row = JobInput.objects.get(job=job, role=InputRole.SOURCE_VIDEO)
    assert row.upload.original_name == "mine.mp4" and row.upload.kind == "video"


# --- Reframe and extend -----------------------------------------------------------------------

def test_reframing_to_the_same_shape_is_refused(owner, owner_client, media_root,
                                                vace_installed):
    wide = gallery_video(owner, numbered_frames(16, width=104, height=60), fps=8)
    refused(owner_client, edit_data(wide, task="reframe", size="832x480"),
            "pick a size of another shape to reframe it to")


def test_a_reframe_needs_no_mask_and_stores_where_the_video_sits(owner, owner_client, source,
                                                                 vace_installed):
    response = submit(owner_client, edit_data(source, task="reframe", size="480x832",
                                              anchor="start"))
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner, kind="edit")
    assert (job.params["mode"], job.params["anchor"]) == ("reframe", "start")
    assert not JobInput.objects.filter(job=job, role=InputRole.MASK).exists()


def test_an_extension_keeps_a_context_shorter_than_what_it_makes(owner_client, source,
                                                                vace_installed):
    refused(owner_client, edit_data(source, task="extend", num_frames="9",
                                    context_frames="9"),
            "fewer than the 9 made")


def test_vace_restyles_without_a_strength_dial(owner_client, source, vace_installed):
    html = owner_client.get(reverse("edit_studio"), {"video": source.id, "task": "v2v"}
                            ).content.decode()
    assert 'name="strength"' in html  # tiny (Wan 2.1) comes first and takes one
    html = owner_client.get(reverse("edit_form"), {"task": "v2v", "preset": VACE,
                                                   "source_video": source.id}).content.decode()
    assert 'name="strength"' not in html and f'value="{VACE}" selected' in html
