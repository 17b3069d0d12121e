"""Subjects in the studio: picked in the form or named @name in the prompt (own or granted,
case-insensitive), their chosen photo versions as the job's reference images with the subject
recorded; grants and a revoked grant failing the grantee's waiting job through the lifecycle."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation import lifecycle
from generation.models import (
    CutoutStatus,
    InputRole,
    Job,
    JobInput,
    JobStatus,
    Subject,
    SubjectGrant,
    SubjectPhoto,
)
from generation.specs import Personalize, SpecError
from generation.subjects import plain_prompt, reference_refs, resolve_mentions, with_photos
from tests.conftest import csrf_post
from tests.i2v.helpers import image_upload
from tests.subjects.conftest import VACE, grant, make_subject, personalize_data

pytestmark = pytest.mark.django_db


def _submit(client, **overrides):
    client.get(reverse("studio"))
    return csrf_post(client, reverse("submit_job"), personalize_data(**overrides),
                     HTTP_HX_REQUEST="true")


def test_at_name_finds_own_and_granted_subjects_case_insensitively(owner, friend):
    mine = make_subject(owner, "Rex")
    theirs = make_subject(friend, "Luna", kind="person")
    same_name = make_subject(friend, "rex")
    grant(theirs, owner)
    grant(same_name, owner)
    found, unknown = resolve_mentions(owner, "@REX meets @luna and @Nobody; mail a@b.com")
    assert found == [mine, theirs]  # one's own @rex before a granted one
    assert unknown == ["Nobody"]
    assert resolve_mentions(friend, "@Luna")[0] == [theirs]
    assert plain_prompt("@Rex and @Luna-2 at sea, a@b.com") == "Rex and Luna-2 at sea, a@b.com"


def test_a_stranger_cannot_name_someone_elses_subject(stranger, owner):
    make_subject(owner, "Rex")
    assert resolve_mentions(stranger, "@Rex on a beach") == ([], ["Rex"])


def test_a_job_with_subjects_records_their_chosen_photos(owner_client, owner, friend, vace):
    rex = make_subject(owner, "Rex", photos=2)
    luna = make_subject(friend, "Luna", kind="person", photos=1)
    grant(luna, owner)
    first = rex.photos.first()
    cutout = image_upload(owner, (64, 64), (255, 255, 255))
    SubjectPhoto.objects.filter(pk=first.pk).update(cutout=cutout, use_cutout=True,
                                                    cutout_status=CutoutStatus.READY)
    response = _submit(owner_client, prompt="@rex chases @Luna along a beach")
    assert response.status_code == 200, response.content.decode()
    job = Job.objects.get(owner=owner)
    assert job.kind == "personalize" and job.preset == VACE
    assert job.params["prompt"] == "rex chases Luna along a beach"
    assert job.params["subjects"] == [{"name": "Rex", "kind": "object"},
                                      {"name": "Luna", "kind": "person"}]
    rows = list(JobInput.objects.filter(job=job).order_by("position"))
    assert [r.role for r in rows] == [InputRole.REFERENCE] * 3  # VACE takes 3 at most
    # In turn from each subject: Rex's cutout, Luna's photo, Rex's second photo.
    assert [r.upload_id for r in rows] == [cutout.id, luna.photos.get().original_id,
                                           rex.photos.all()[1].original_id]
    assert [(r.subject_id, r.subject_name, r.subject_kind) for r in rows] == [
        (rex.id, "Rex", "object"), (luna.id, "Luna", "person"), (rex.id, "Rex", "object")]


def test_subjects_picked_in_the_form_are_used(owner_client, owner, vace):
    rex = make_subject(owner, "Rex", photos=1)
    response = _submit(owner_client, prompt="a dog on a beach", subjects=[str(rex.id)])
    assert response.status_code == 200, response.content.decode()
    row = JobInput.objects.get(job__owner=owner)
    assert row.subject == rex and row.upload_id == rex.photos.get().original_id


@pytest.mark.parametrize(("overrides", "message"), [
    ({"prompt": "@Ghost on a beach"}, "You have no subject called @Ghost"),
    ({"prompt": "a beach"}, "Pick a subject, or write @name in the prompt."),
    ({"prompt": "@A @B @C @Rex"}, "Use at most 3 subjects in one video; this asks for 4."),
])
def test_unusable_subject_choices_are_refused(owner_client, owner, vace, overrides, message):
    for name in ("A", "B", "C", "Rex"):
        make_subject(owner, name, photos=1)
    response = _submit(owner_client, **overrides)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_a_stranger_cannot_pick_a_subject_by_id(stranger_client, stranger, owner, vace):
    rex = make_subject(owner, "Rex")
    response = _submit(stranger_client, prompt="a dog", subjects=[str(rex.id)])
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.exists()


def test_the_studio_offers_the_subject_form(owner_client, owner, vace):
    make_subject(owner, "Rex")
    page = owner_client.get(reverse("generation_form"), {"task": "personalize"}).content.decode()
    assert "With a subject" in page and "@Rex (object)" in page
    assert 'name="subjects"' in page


def test_granting_lets_a_user_use_a_subject_and_revoking_fails_their_waiting_job(
        owner_client, owner, friend, client, vace):
    rex = make_subject(owner, "Rex")
    url = reverse("grant_subject", args=[rex.id])
    refused = csrf_post(owner_client, url, {"username": "nobody"})
    assert refused.status_code == 422 and "There is no user called nobody." in \
        refused.content.decode()
    assert csrf_post(owner_client, url, {"username": "FRIEND"}).status_code == 302
    grant_row = SubjectGrant.objects.get(subject=rex)
    assert grant_row.user == friend

    client.force_login(friend)
    assert _submit(client, prompt="@Rex on a beach").status_code == 200
    waiting = Job.objects.get(owner=friend)
    assert waiting.status == JobStatus.QUEUED
    mine = lifecycle.submit(owner, lifecycle.spec_of(waiting))  # the owner's own job stays
    sequence = waiting.status_sequence

    response = csrf_post(owner_client, reverse("revoke_subject_grant",
                                               args=[rex.id, grant_row.id]))
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.FAILED
    assert waiting.status_sequence == sequence + 1
    assert waiting.error_code == "subject_unavailable"
    assert waiting.error_message == ("owner no longer lets you use the subject Rex, so this "
                                     "job was not run.")
    assert Job.objects.get(pk=mine.pk).status == JobStatus.QUEUED
    assert mine.inputs.filter(subject=rex).count() == 2  # the retried spec keeps its subject
    # A retry of the failed job is refused: the subject is no longer theirs.
    retried = csrf_post(client, reverse("retry_job", args=[waiting.id]), follow=True)
    assert "One of the subjects is not yours to use." in retried.content.decode()
    assert Job.objects.filter(owner=friend).count() == 1
    # And the subject is no longer theirs to use.
    again = _submit(client, prompt="@Rex on a beach")
    assert again.status_code == 422 and "You have no subject called @Rex" in \
        again.content.decode()


def test_the_lifecycle_takes_subject_photos_only_from_those_who_may_use_them(
        owner, friend, stranger, vace):
    rex = with_photos(Subject.objects.filter(pk=make_subject(owner, "Rex").pk)).get()
    spec = Personalize(preset=VACE, prompt="Rex", width=832, height=480, num_frames=5,
                       steps=2, guidance=5.0, seed=1, inputs=tuple(reference_refs([rex], 3)))
    grant(rex, friend)
    assert lifecycle.submit(friend, spec).inputs.filter(subject=rex).count() == 2
    for user in (stranger,):
        with pytest.raises(SpecError, match="not yours to use"):
            lifecycle.submit(user, spec)
    SubjectGrant.objects.all().delete()
    with pytest.raises(SpecError, match="not yours to use"):
        lifecycle.submit(friend, spec)
