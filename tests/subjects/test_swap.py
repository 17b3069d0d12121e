"""A swap: an edit (a source video and a mask) with a subject's photos as references: the
spec takes references on a preset that does, and Wan VACE's adapter passes them beside the
control video and mask."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from generation.models import InputRole, Upload, Video
from generation.specs import EditVideo, InputRef
from tests.editing.conftest import gallery_video, mask_upload
from tests.editing.media import numbered_frames, rect_mask
from tests.subjects.conftest import VACE
from worker.catalogue import GenerationRequest, Task, family_of, get_preset


def _edit(references: int, clip: Video, mask: Upload) -> EditVideo:
    refs = [InputRef(InputRole.SOURCE_VIDEO, video_id=clip.id),
            InputRef(InputRole.MASK, upload_id=mask.id)]
    refs += [InputRef(InputRole.REFERENCE, upload_id=uuid.uuid4(), subject_id=uuid.uuid4())
             for _ in range(references)]
    return EditVideo(preset=VACE, prompt="Rex walks in", width=832, height=480, num_frames=17,
                     steps=2, guidance=5.0, seed=1, inputs=tuple(refs),
                     subjects=({"name": "Rex", "kind": "object"},))


@pytest.fixture
def clip(owner, tmp_path, settings) -> Video:
    settings.MEDIA_ROOT = tmp_path
    return gallery_video(owner, numbered_frames(16), fps=8)


@pytest.mark.django_db
def test_an_edit_takes_up_to_the_presets_reference_images(vace, owner, clip):
    mask = mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40)))
    assert _edit(0, clip, mask).errors() == {}
    assert _edit(3, clip, mask).errors() == {}
    assert _edit(4, clip, mask).errors() == {"reference": "Give 0 to 3 of: reference image."}
    assert _edit(1, clip, mask).params()["subjects"] == ({"name": "Rex", "kind": "object"},)


def test_vace_swaps_the_masked_part_for_the_references():
    preset = get_preset(VACE)
    frames = np.zeros((5, 48, 64, 3), np.uint8)
    mask = np.zeros((5, 48, 64), np.uint8)
    mask[:, 10:30, 20:40] = 255
    photo = np.full((40, 30, 3), 255, np.uint8)
    request = GenerationRequest(preset_id=VACE, task=str(Task.EDIT), prompt="Rex walks in",
                                negative_prompt="", width=832, height=480, num_frames=5,
                                steps=2, guidance=5.0, seed=1, video=frames, mask=mask,
                                reference_images=(photo, photo))
    kwargs = family_of(preset).calls.pipeline_kwargs(preset, request)
    assert len(kwargs["video"]) == len(kwargs["mask"]) == 5
    assert [image.size for image in kwargs["reference_images"]] == [(30, 40), (30, 40)]
    plain = GenerationRequest(**{**request.__dict__, "reference_images": ()})
    assert "reference_images" not in family_of(preset).calls.pipeline_kwargs(preset, plain)


@pytest.mark.django_db
def test_the_swap_form_makes_an_edit_with_the_subjects_photos(owner_client, owner, stranger,
                                                               vace, clip):
    from django.urls import reverse

    from generation.models import Job, JobInput
    from tests.conftest import csrf_post
    from tests.subjects.conftest import make_subject, personalize_data
    from tests.videos import make_video

    rex = make_subject(owner, "Rex", photos=2)
    video, mask = clip, mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40)))
    owner_client.get(reverse("studio"))
    form = owner_client.get(reverse("generation_form"), {"task": "swap"}).content.decode()
    assert "Swap in a subject" in form and 'name="mask"' in form and "@Rex (object)" in form

    def submit(**overrides):
        data = personalize_data(task="swap", prompt="@Rex walks in", source_video=str(video.id),
                                mask=str(mask.id))
        return csrf_post(owner_client, reverse("submit_job"), {**data, **overrides},
                         HTTP_HX_REQUEST="true")

    missing = submit(mask="")
    assert missing.status_code == 422 and "Give a mask" in missing.content.decode()
    theirs = make_video(stranger, with_job=False)
    refused = submit(source_video=str(theirs.id))
    assert refused.status_code == 422 and "Select a valid choice" in refused.content.decode()
    assert not Job.objects.filter(kind="edit").exists()

    assert submit().status_code == 200
    job = Job.objects.get(owner=owner, kind="edit")
    assert (job.kind, job.params["subjects"]) == ("edit", [{"name": "Rex", "kind": "object"}])
    rows = {(r.role, r.position): r for r in JobInput.objects.filter(job=job)}
    assert rows[(InputRole.SOURCE_VIDEO, 0)].video == video
    assert rows[(InputRole.MASK, 0)].upload == mask
    assert [rows[(InputRole.REFERENCE, i)].subject_id for i in (0, 1)] == [rex.id, rex.id]
