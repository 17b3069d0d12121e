"""The storyboard API (/api/v1/storyboards): create with shots, read, change a shot, move,
render; the page's checks and messages; other people's storyboards answer 404."""

from __future__ import annotations

import pytest

from generation.models import Job
from storyboards.models import Storyboard
from tests.api.conftest import api, assert_problem, owner_key, stranger_api, stranger_key  # noqa: F401
from tests.i2v.helpers import image_upload

pytestmark = pytest.mark.django_db


def make(api, **body):  # noqa: F811 (the fixture is passed in)
    response = api.post("storyboards", {"title": "Harbour", **body})
    assert response.status_code == 201, response.content.decode()
    return response.json()


def test_create_read_and_list_with_defaults(api):  # noqa: F811
    board = make(api, shots=[{"prompt": "a harbour at dawn"},
                             {"prompt": "the boats leave", "seed": 4}])
    first, second = board["shots"]
    assert board["state"] == "draft" and board["video"] is None
    assert (first["preset"], first["num_frames"], first["transition"]) == ("demo-ltx2", 17,
                                                                          "cut")
    assert (second["transition"], second["seed"], second["state"]) == ("continue", 4, "waiting")
    assert api.get(f"storyboards/{board['id']}").json()["shots"] == board["shots"]
    assert [item["id"] for item in api.get("storyboards").json()] == [board["id"]]


def test_a_bad_shot_is_refused_with_the_page_s_message(api, owner):  # noqa: F811
    response = api.post("storyboards", {"title": "Harbour", "shots": [
        {"prompt": "fine"}, {"prompt": "too long", "num_frames": 10}]})
    body = assert_problem(response, 422, "invalid")
    assert "one more than a multiple of 8; 10 is not" in body["fields"]["shots.1.num_frames"]
    assert not Storyboard.objects.exists()
    board = make(api)
    image = image_upload(owner)
    response = api.post(f"storyboards/{board['id']}/shots",
                        {"prompt": "from a photo", "preset": "tiny", "num_frames": 9,
                         "start_image": str(image.id)})
    body = assert_problem(response, 422, "invalid")
    assert "cannot start from an image" in body["fields"]["preset"]
    assert_problem(api.post("storyboards", {"title": " "}), 422, "invalid")


def test_change_move_remove_and_render(api, owner):  # noqa: F811
    board = make(api, shots=[{"prompt": "one", "num_frames": 9},
                             {"prompt": "two", "num_frames": 9, "transition": "cut"}])
    one, two = board["shots"]
    changed = api.patch(f"storyboards/{board['id']}/shots/{two['id']}",
                        {"prompt": "two, again"}).json()
    assert changed["shots"][1]["prompt"] == "two, again"
    assert changed["shots"][1]["seed"] == two["seed"]  # unchanged fields stay
    moved = api.post(f"storyboards/{board['id']}/shots/{two['id']}/move",
                     {"direction": "up"}).json()
    assert [shot["prompt"] for shot in moved["shots"]] == ["two, again", "one"]
    response = api.post(f"storyboards/{board['id']}/render")
    assert response.status_code == 202, response.content.decode()
    rendering = response.json()
    assert rendering["state"] == "rendering"
    assert rendering["shots"][0]["state"] == "queued" and rendering["shots"][0]["job_id"]
    job = Job.objects.get(owner=owner)
    assert job.params["prompt"] == "two, again"
    left = api.delete(f"storyboards/{board['id']}/shots/{one['id']}").json()
    assert [shot["prompt"] for shot in left["shots"]] == ["two, again"]
    renamed = api.patch(f"storyboards/{board['id']}", {"title": "Port"}).json()
    assert renamed["title"] == "Port"
    assert api.delete(f"storyboards/{board['id']}").status_code == 204
    assert not Storyboard.objects.exists()


def test_render_with_no_shots_is_a_conflict(api):  # noqa: F811
    board = make(api)
    assert_problem(api.post(f"storyboards/{board['id']}/render"), 409, "no_shots")


def test_someone_else_s_storyboard_is_404(api, stranger_api):  # noqa: F811
    board = make(api, shots=[{"prompt": "one", "num_frames": 9}])
    shot = board["shots"][0]["id"]
    base = f"storyboards/{board['id']}"
    for response in (stranger_api.get(base), stranger_api.patch(base, {"title": "x"}),
                     stranger_api.delete(base), stranger_api.post(f"{base}/render"),
                     stranger_api.post(f"{base}/shots", {"prompt": "x"}),
                     stranger_api.patch(f"{base}/shots/{shot}", {"prompt": "x"}),
                     stranger_api.post(f"{base}/shots/{shot}/move", {"direction": "up"}),
                     stranger_api.delete(f"{base}/shots/{shot}")):
        assert_problem(response, 404, "not_found")
    assert stranger_api.get("storyboards").json() == []
    assert not Job.objects.exists()
    assert api.get(base).json()["title"] == "Harbour"
