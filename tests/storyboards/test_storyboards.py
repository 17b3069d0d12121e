"""Storyboards on the real database without a worker: ownership (strangers get 404), CSRF,
the shot form's validation, ordering, and what Render queues first."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import InputRole, Job, JobStatus
from storyboards import render
from storyboards.models import RenderState, Shot, Storyboard
from tests.conftest import csrf_post
from tests.i2v.helpers import image_upload
from tests.storyboards.helpers import add_shot, shot_data, shots
from tests.subjects.conftest import make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(owner) -> Storyboard:
    return Storyboard.objects.create(owner=owner, title="The voyage")


def test_creating_one_from_the_list_page(owner_client, owner):
    page = owner_client.get(reverse("storyboards"))
    assert page.status_code == 200 and "No storyboards yet" in page.content.decode()
    response = csrf_post(owner_client, reverse("storyboards"), {"title": "  A   day  "})
    board = Storyboard.objects.get(owner=owner)
    assert response.status_code == 302 and response["Location"] == board.get_absolute_url()
    assert board.title == "A day" and board.state == RenderState.DRAFT
    refused = csrf_post(owner_client, reverse("storyboards"), {"title": "   "})
    assert refused.status_code == 422 and "Give the storyboard a title." in refused.content.decode()


def test_strangers_get_404_everywhere(board, stranger_client, owner_client):
    shot = Shot.objects.create(storyboard=board, position=1, prompt="x", preset="demo-ltx2",
                               num_frames=9, seed=1)
    gets = [reverse("storyboard", args=[board.id]),
            reverse("storyboard_progress", args=[board.id])]
    posts = [reverse(name, args=[board.id]) for name in (
        "rename_storyboard", "delete_storyboard", "add_shot", "render_storyboard")]
    posts += [reverse(name, args=[board.id, shot.id]) for name in (
        "edit_shot", "delete_shot", "move_shot")]
    for url in gets:
        assert stranger_client.get(url).status_code == 404, url
    for url in posts:
        assert csrf_post(stranger_client, url, shot_data(title="mine")).status_code == 404, url
    assert board.title not in stranger_client.get(reverse("storyboards")).content.decode()
    board.refresh_from_db()
    assert board.title == "The voyage" and Shot.objects.filter(pk=shot.pk).exists()
    assert not Job.objects.exists()
    assert owner_client.get(gets[0]).status_code == 200


def test_signed_out_is_sent_to_sign_in(board):
    response = Client().get(reverse("storyboard", args=[board.id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_every_mutation_needs_the_csrf_token(board, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("add_shot", args=[board.id]), shot_data())
    assert response.status_code == 403 and not board.shots.exists()
    response = client.post(reverse("render_storyboard", args=[board.id]))
    assert response.status_code == 403


def test_shots_are_added_in_order_and_the_first_always_cuts(board, owner_client):
    assert add_shot(owner_client, board, prompt="one", transition="continue").status_code == 200
    assert add_shot(owner_client, board, prompt="two", transition="continue").status_code == 200
    first, second = shots(board)
    assert [first.prompt, second.prompt] == ["one", "two"]
    assert not render.continues(first, 0) and render.continues(second, 1)
    page = owner_client.get(reverse("storyboard", args=[board.id])).content.decode()
    assert "Continues from shot 1" in page and "The first shot always starts fresh." in page


def test_bad_shots_are_refused_with_a_message_by_field(board, owner_client, owner):
    response = add_shot(owner_client, board, num_frames=10)
    assert response.status_code == 422
    assert "one more than a multiple of 8; 10 is not" in response.content.decode()
    response = add_shot(owner_client, board, prompt="   ")
    assert "Write what the shot should show." in response.content.decode()
    response = add_shot(owner_client, board, preset="no-such-model")
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    # tiny makes videos from a prompt only: it cannot start from an image.
    image = image_upload(owner)
    response = add_shot(owner_client, board, preset="tiny", num_frames=9,
                        start_image=image.id)
    assert response.status_code == 422 and "cannot start from an image" in \
        response.content.decode()
    add_shot(owner_client, board)
    response = add_shot(owner_client, board, transition="continue", start_image=image.id)
    assert "starts from the last frame of the shot before" in response.content.decode()
    assert board.shots.count() == 1


def test_someone_elses_upload_cannot_be_a_start_image(board, owner_client, stranger):
    theirs = image_upload(stranger)
    response = add_shot(owner_client, board, start_image=theirs.id)
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert not board.shots.exists()


def test_move_up_and_down_and_remove(board, owner_client):
    for prompt in ("one", "two", "three"):
        add_shot(owner_client, board, prompt=prompt)
    one, _, three = shots(board)
    csrf_post(owner_client, reverse("move_shot", args=[board.id, three.id]),
              {"direction": "up"}, HTTP_HX_REQUEST="true")
    assert [s.prompt for s in shots(board)] == ["one", "three", "two"]
    csrf_post(owner_client, reverse("move_shot", args=[board.id, one.id]),
              {"direction": "down"}, HTTP_HX_REQUEST="true")
    assert [s.prompt for s in shots(board)] == ["three", "one", "two"]
    # Past either end: nothing moves.
    csrf_post(owner_client, reverse("move_shot", args=[board.id, three.id]),
              {"direction": "up"}, HTTP_HX_REQUEST="true")
    assert [s.prompt for s in shots(board)] == ["three", "one", "two"]
    csrf_post(owner_client, reverse("delete_shot", args=[board.id, one.id]),
              HTTP_HX_REQUEST="true")
    assert [s.prompt for s in shots(board)] == ["three", "two"]


def test_render_queues_only_the_first_shot_through_the_lifecycle(board, owner_client, owner):
    add_shot(owner_client, board, prompt="opening")
    add_shot(owner_client, board, prompt="onwards", transition="continue")
    response = csrf_post(owner_client, reverse("render_storyboard", args=[board.id]),
                         HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = Job.objects.get(owner=owner)
    assert (job.kind, job.preset, job.status) == ("t2v", "demo-ltx2", JobStatus.QUEUED)
    assert job.params["prompt"] == "opening" and job.params["num_frames"] == 9
    assert job.params["seed"] == 7
    board.refresh_from_db()
    assert board.state == RenderState.RENDERING
    first, second = shots(board)
    assert first.job == job and second.job is None
    page = response.content.decode()
    assert "Waiting in the queue" in page and "Waits for shot 1" in page
    assert 'hx-trigger="every 2s"' in page  # the status keeps itself up to date


def test_a_cancelled_shot_stops_the_render_and_render_again_resumes_from_it(
        board, owner_client, owner):
    add_shot(owner_client, board, prompt="opening")
    render.render(board)
    job = Job.objects.get(owner=owner)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)
    board.refresh_from_db()
    status = render.board_status(board)
    assert status.state == RenderState.STOPPED
    assert "Stopped at shot 1: cancelled" in status.message
    page = owner_client.get(reverse("storyboard", args=[board.id])).content.decode()
    assert "Render again" in page
    render.advance(board.id)  # a finishing job elsewhere does not restart it
    assert Job.objects.filter(owner=owner).count() == 1
    render.render(board)
    again = Job.objects.filter(owner=owner).exclude(pk=job.pk).get()
    assert again.status == JobStatus.QUEUED and shots(board)[0].job == again


def test_a_shot_that_cannot_start_stops_with_the_reason(board, owner, owner_client):
    add_shot(owner_client, board, prompt="opening")
    owner.max_active_jobs = 0
    owner.save(update_fields=["max_active_jobs"])
    render.render(board)
    board.refresh_from_db()
    assert board.state == RenderState.STOPPED
    assert board.message.startswith("Shot 1 could not start: You already have 0 jobs")


def test_render_with_no_shots_says_so(board, owner_client):
    response = csrf_post(owner_client, reverse("render_storyboard", args=[board.id]))
    assert response.status_code == 302
    page = owner_client.get(reverse("storyboard", args=[board.id])).content.decode()
    assert "Add a shot first." in page
    assert not Job.objects.exists()


def test_a_start_image_makes_an_image_to_video_job(board, owner_client, owner):
    image = image_upload(owner, size=(128, 128))
    add_shot(owner_client, board, start_image=image.id)
    render.render(board)
    job = Job.objects.get(owner=owner)
    assert job.kind == "i2v"
    assert list(job.inputs.values_list("role", "upload_id")) == [
        (InputRole.START_IMAGE, image.id)]


def test_a_subject_shot_gives_its_photos_as_references(board, owner_client, owner):
    subject = make_subject(owner, "Rex", photos=2)
    response = add_shot(owner_client, board, preset="demo-vace", subject=subject.id)
    assert response.status_code == 200, response.content.decode()[-1500:]
    render.render(board)
    job = Job.objects.get(owner=owner)
    assert job.kind == "personalize" and job.params["subjects"] == [
        {"name": "Rex", "kind": "object"}]
    photos = set(subject.photos.values_list("original_id", flat=True))
    references = job.inputs.filter(role=InputRole.REFERENCE)
    assert set(references.values_list("upload_id", flat=True)) == photos
    assert set(references.values_list("subject_id", flat=True)) == {subject.id}


def test_a_subject_shot_cannot_continue_and_needs_a_model_that_takes_photos(
        board, owner_client, owner):
    subject = make_subject(owner, "Rex", photos=1)
    response = add_shot(owner_client, board, preset="tiny", subject=subject.id)
    assert response.status_code == 422 and "cannot take a subject" in response.content.decode()
    add_shot(owner_client, board)
    response = add_shot(owner_client, board, preset="demo-vace", subject=subject.id,
                        transition="continue")
    assert "A shot with a subject starts from its photos" in response.content.decode()


def test_someone_elses_subject_is_not_offered(board, owner_client, stranger):
    theirs = make_subject(stranger, "Rex", photos=1)
    response = add_shot(owner_client, board, preset="demo-vace", subject=theirs.id)
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()


def test_deleting_a_storyboard_cancels_its_waiting_shot_and_keeps_nothing_else(
        board, owner_client, owner):
    add_shot(owner_client, board)
    render.render(board)
    job = Job.objects.get(owner=owner)
    response = csrf_post(owner_client, reverse("delete_storyboard", args=[board.id]))
    assert response.status_code == 302 and not Storyboard.objects.exists()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
