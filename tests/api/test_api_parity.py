"""The API (and the CLI) can ask for everything the studio's forms offer, through the same
entrance (generation.submission): every form field has its place in the API's job schema,
and a job sent either way is stored alike."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from typing import Any, get_args

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.schemas import ExpertName, RoleName, SpeedName, TaskName
from generation.forms import TextToVideoForm
from generation.models import InputRole, Job, Upload, UploadKind, WorkerState
from generation.specs import MAX_PROMPT_CHARS, SPECS, JobSpec
from generation.submission import task_options
from tests.api.conftest import assert_problem
from tests.conftest import csrf_post
from tests.i2v.helpers import i2v_data, image_upload
from tests.jobs import form_data
from worker.catalogue.request import EXPERTS
from worker.catalogue.speed import SpeedMode

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

# Each studio form's task, as the API names it: the studio's "Swap in a subject" and
# "Reframe" are edits (with references, or `mode: reframe`).
API_TASK = {"t2v": "t2v", "i2v": "i2v", "personalize": "personalize", "swap": "edit",
            "control": "control", "v2v": "v2v", "edit": "edit", "reframe": "edit",
            "extend": "extend"}

# Form fields the API takes under another name: a field of the job (`field`), an input's
# role (`role`) or one of the task's options (`option`). Everything else is a field of the
# job or an option under its own name.
RENAMED: list[tuple[str, list[tuple[str, str]]]] = [
    (r"size", [("field", "width"), ("field", "height")]),
    (r"lora_(strength_|expert_)?\d+", [("field", "loras"), ("role", "lora")]),
    (r"(start_image|start_file)", [("role", "start_image")]),
    (r"(end_image|end_file)", [("role", "end_image")]),
    (r"(source_video|source_upload|source_file)", [("role", "source_video")]),
    (r"(mask|mask_file)", [("role", "mask")]),
    (r"keyframe_image", [("role", "keyframe")]),
    (r"(keyframe_frame|keyframe_strength)", [("option", "keyframes")]),
    (r"crop_(left|top|right|bottom)", [("option", "crop")]),
]
# What the studio offers that a request has no use for, and why.
NOT_IN_A_REQUEST = {
    # One press of Generate makes several jobs; the API answers each request with its job,
    # so a script asks once per seed.
    "variations",
}


def _studio_forms() -> list[type[TextToVideoForm]]:
    """Every form of the studio and the edit studio: TextToVideoForm and its subclasses."""
    for module in ("generation.views", "generation.edit_views"):  # where each is used
        importlib.import_module(module)

    found, todo = [], [TextToVideoForm]
    while todo:
        form = todo.pop()
        if form.__module__.startswith("generation."):
            found.append(form)
        todo += form.__subclasses__()
    return found


def _field_names(form_class: type[TextToVideoForm], user: Any) -> set[str]:
    """The form's fields, those it adds for its model (the LoRA slots) and those it only
    shows where they apply (fp8, sound) alike."""
    return set(form_class.base_fields) | set(form_class(user=user).fields)


def _places(name: str) -> list[tuple[str, str]]:
    for pattern, places in RENAMED:
        if re.fullmatch(pattern, name):
            return places
    return [("field", name)]


@pytest.fixture
def document() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def _enum(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The values of an enum property, however pydantic nests it (anyOf null, a $ref)."""
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            option = _schema(document, option["$ref"].rsplit("/", 1)[1])
        if "enum" in option:
            return set(option["enum"])
    raise AssertionError(f"no enum in {schema}")


def test_every_studio_form_option_has_its_place_in_the_api(document, owner):
    job_fields = set(_schema(document, "JobIn")["properties"])
    roles = _enum(document, _schema(document, "InputIn")["properties"]["role"])
    forms = _studio_forms()
    assert {form.task for form in forms} == set(API_TASK), "a new form: name its API task"
    missing = []
    for form in forms:
        task = API_TASK[form.task]
        options = set(task_options(task))
        for name in sorted(_field_names(form, owner) - NOT_IN_A_REQUEST):
            for kind, place in _places(name):
                there = {"field": job_fields, "role": roles, "option": options}[kind]
                if kind == "field" and place not in job_fields:
                    kind, there = "option", options  # a task's own setting
                if place not in there:
                    missing.append(f"{form.__name__}.{name} → {kind} {place} of {task}")
    assert not missing, "the API cannot ask for: " + "; ".join(missing)


def test_every_setting_every_job_has_is_a_field_of_the_api_job(document):
    job_fields = set(_schema(document, "JobIn")["properties"])
    common = {f.name for f in dataclasses.fields(JobSpec)}
    assert common - job_fields == set(), "JobSpec's settings the API cannot send"
    # And every task's own settings are named per task in GET /presets.
    for spec in SPECS.values():
        assert set(task_options(spec.task)) <= {f.name for f in dataclasses.fields(spec)}


def test_the_apis_names_are_the_domains(document):
    assert set(get_args(SpeedName)) == {mode.value for mode in SpeedMode}
    assert _enum(document, _schema(document, "JobIn")["properties"]["speed"]) == set(
        get_args(SpeedName))
    assert set(get_args(RoleName)) == {role.value for role in InputRole} - {"remix_of"}
    assert set(get_args(TaskName)) <= {task.value for task in SPECS}
    assert get_args(ExpertName) == EXPERTS
    original = _schema(document, "JobIn")["properties"]["prompt_original"]
    assert {option.get("maxLength") for option in original["anyOf"]} >= {MAX_PROMPT_CHARS}


# --- The same job through the studio and the API ----------------------------------------


@pytest.fixture
def studio(owner_client):
    assert owner_client.get(reverse("studio")).status_code == 200  # the CSRF cookie
    return owner_client


@pytest.fixture
def fp8_worker():
    WorkerState.objects.create(name="gpu-1", gpu_name="NVIDIA H100 80GB HBM3",
                               gpu_total_gb=79.6, seen_at=timezone.now())


@pytest.fixture
def lora(owner):
    from generation.loras import accept_lora
    from tests.loras.files import lora_bytes

    return accept_lora(owner, SimpleUploadedFile("ink.safetensors", lora_bytes("tiny")),
                       name="ink", purpose="style")


def _through_the_studio(studio, data: dict[str, Any]) -> Job:
    response = csrf_post(studio, reverse("submit_job"), data, **HTMX)
    assert response.status_code == 200, response.content.decode()[-3000:]
    return Job.objects.latest("created_at")


def _through_the_api(api, body: dict[str, Any]) -> Job:
    response = api.post("jobs", body)
    assert response.status_code == 201, response.content
    return Job.objects.get(pk=response.json()["id"])


def _stored(job: Job) -> tuple[str, str, dict[str, Any], list[tuple[Any, ...]]]:
    inputs = sorted((row.role, row.position, row.upload_id, row.video_id, row.strength,
                     row.expert) for row in job.inputs.all())
    return job.kind, job.preset, job.params, inputs


def test_speed_fp8_and_a_lora_are_stored_alike_from_the_studio_and_the_api(
        studio, api, fp8_worker, lora):
    from_studio = _through_the_studio(studio, form_data(
        speed="balanced", fp8="on", seed="42", lora_1=str(lora.pk), lora_strength_1="0.7"))
    from_api = _through_the_api(api, {
        "preset": "tiny", "prompt": "a lighthouse at dusk", "width": 128, "height": 128,
        "num_frames": 17, "steps": 8, "guidance": 5.0, "seed": 42, "speed": "balanced",
        "fp8": True, "loras": [{"id": str(lora.pk), "strength": 0.7}]})
    assert from_studio.params["speed"] == "balanced" and from_studio.params["fp8"] is True
    assert from_studio.inputs.get().role == InputRole.LORA
    assert _stored(from_api) == _stored(from_studio)


def test_a_lora_sent_as_an_input_is_the_same_as_one_in_loras(api, lora):
    # A job's `inputs` list its LoRAs with their strength: sent back, they mean the same.
    one = _through_the_api(api, {"preset": "tiny", "prompt": "ink", "seed": 3,
                                 "loras": [{"id": str(lora.pk), "strength": 0.5}]})
    other = _through_the_api(api, {"preset": "tiny", "prompt": "ink", "seed": 3, "inputs": [
        {"role": "lora", "upload_id": str(lora.pk), "strength": 0.5}]})
    assert _stored(one) == _stored(other)


def test_keyframes_are_stored_alike_from_the_studio_and_the_api(studio, api, owner, installed):
    start, middle = image_upload(owner), image_upload(owner, colour=(0, 0, 200))
    data = i2v_data(start_image=str(start.id), num_frames="17")
    data.update(keyframe_image=[str(middle.id)], keyframe_frame=["8"],
                keyframe_strength=["0.5"])
    from_studio = _through_the_studio(studio, data)
    from_api = _through_the_api(api, {
        "task": "i2v", "preset": "ltx-video", "prompt": "the boat sails away",
        "width": 704, "height": 480, "num_frames": 17, "steps": 2, "guidance": 3.0,
        "seed": 7, "options": {"fit": "crop", "keyframes": [[8, 0.5]]},
        "inputs": [{"role": "start_image", "upload_id": str(start.id)},
                   {"role": "keyframe", "upload_id": str(middle.id)}]})
    assert from_studio.params["keyframes"] == [[8, 0.5]]
    assert _stored(from_api) == _stored(from_studio)


def test_sound_off_is_stored_alike_from_the_studio_and_the_api(studio, api):
    data = form_data(preset="demo-ltx2", size="160x96", num_frames="17", steps="2",
                     guidance="3.0", seed="5", sound="0")
    from_studio = _through_the_studio(studio, data)
    from_api = _through_the_api(api, {
        "preset": "demo-ltx2", "prompt": "a lighthouse at dusk", "width": 160, "height": 96,
        "num_frames": 17, "steps": 2, "guidance": 3.0, "seed": 5, "sound": False})
    assert from_studio.params["sound"] is False
    assert _stored(from_api) == _stored(from_studio)


def test_unset_settings_take_the_studios_defaults(studio, api):
    from_studio = _through_the_studio(studio, form_data(seed="9"))
    from_api = _through_the_api(api, {"preset": "tiny", "prompt": "a lighthouse at dusk",
                                      "num_frames": 17, "steps": 8, "guidance": 5.0,
                                      "seed": 9})
    assert {k: from_api.params[k] for k in ("speed", "fp8", "sound")} == {
        "speed": "quality", "fp8": False, "sound": True}
    assert _stored(from_api) == _stored(from_studio)


def test_the_prompt_as_written_is_kept_alike_from_the_studio_and_the_api(studio, api):
    from_studio = _through_the_studio(studio, form_data(
        prompt="A lighthouse at dusk, waves breaking on the rocks below", seed="4",
        prompt_original="a lighthouse"))
    from_api = _through_the_api(api, {
        "preset": "tiny", "prompt": "A lighthouse at dusk, waves breaking on the rocks below",
        "prompt_original": "a lighthouse", "num_frames": 17, "steps": 8, "guidance": 5.0,
        "seed": 4})
    assert from_studio.params["prompt_original"] == "a lighthouse"
    assert _stored(from_api) == _stored(from_studio)


def test_a_remix_records_the_video_it_started_from(api, owner, stranger):
    from tests.videos import make_video

    mine = make_video(owner)
    job = _through_the_api(api, {"preset": "tiny", "prompt": "again", "remix_of": str(mine.id)})
    assert job.origin == "remix"
    assert job.inputs.get(role=InputRole.REMIX_OF).video_id == mine.id
    theirs = make_video(stranger)
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x",
                                            "remix_of": str(theirs.id)}), 422, "invalid_job")
    assert "no such video" in body["fields"]["remix_of"]


# --- Refusals in the API's error shape ----------------------------------------------------


def test_an_unknown_speed_is_refused_with_the_modes(api):
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x",
                                            "speed": "turbo"}), 422, "invalid")
    assert "quality" in body["fields"]["speed"] and "preview" in body["fields"]["speed"]


def test_fp8_is_refused_while_no_worker_has_it(api):
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x", "fp8": True}),
                          422, "invalid_job")
    assert "No GPU worker here has fp8" in body["fields"]["fp8"]
    assert not Job.objects.exists()


def test_a_common_setting_sent_as_an_option_says_where_it_goes(api):
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x",
                                            "options": {"speed": "balanced"}}), 422,
                          "invalid_job")
    assert "beside the options" in body["fields"]["options.speed"]


def test_keyframes_on_a_model_that_takes_none_are_refused(api, owner):
    start, middle = image_upload(owner), image_upload(owner)
    body = assert_problem(api.post("jobs", {
        "task": "i2v", "preset": "demo-i2v", "prompt": "x", "num_frames": 17,
        "options": {"keyframes": [[8, 1.0]]},
        "inputs": [{"role": "start_image", "upload_id": str(start.id)},
                   {"role": "keyframe", "upload_id": str(middle.id)}]}), 422, "invalid_job")
    assert "takes no keyframe" in " ".join(body["fields"].values())


def test_a_video_is_refused_where_the_model_reads_an_image(api, owner, installed):
    start = image_upload(owner)
    clip = Upload(owner=owner, kind=UploadKind.VIDEO, width=704, height=480, frame_count=17,
                  fps=24.0)
    clip.file.save("clip.mp4", ContentFile(b"\0" * 64), save=False)
    clip.save()
    body = assert_problem(api.post("jobs", {
        "task": "i2v", "preset": "ltx-video", "prompt": "x", "num_frames": 17,
        "options": {"keyframes": [[8, 1.0]]},
        "inputs": [{"role": "start_image", "upload_id": str(start.id)},
                   {"role": "keyframe", "upload_id": str(clip.id)}]}), 422, "invalid_job")
    assert "Choose an image, not a video" in body["fields"]["keyframe"]


def test_a_strength_goes_with_a_lora_input_only(api, owner):
    start = image_upload(owner)
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x", "inputs": [
        {"role": "start_image", "upload_id": str(start.id), "strength": 0.5}]}), 422,
        "invalid")
    assert "only a lora input has a strength" in body["message"]


def test_someone_elses_lora_is_as_missing_as_none(stranger_api, lora):
    body = assert_problem(stranger_api.post("jobs", {"preset": "tiny", "prompt": "x", "inputs": [
        {"role": "lora", "upload_id": str(lora.pk)}]}), 422, "invalid_job")
    assert body["fields"] == {"loras": "One of the chosen LoRAs does not exist."}


# --- The CLI's flags ----------------------------------------------------------------------


def test_the_cli_sends_every_new_setting(api, owner, installed, fp8_worker):
    from api.cli import _job_in, _parser

    start, middle = image_upload(owner), image_upload(owner)
    args = _parser().parse_args([
        "generate", "the boat sails away", "--model", "ltx-video", "--image", str(start.id),
        "--keyframe", f"{middle.id}@8,0.5", "--frames", "17", "--steps", "2",
        "--speed", "balanced", "--fp8", "--no-sound", "--seed", "7"])
    body = _job_in(None, args, quiet=True)  # type: ignore[arg-type]  # ids: no calls
    assert (body.task, body.speed, body.fp8, body.sound) == ("i2v", "balanced", True, False)
    assert body.options == {"keyframes": [[8, 0.5]]}
    assert [(i.role, i.upload_id) for i in body.inputs] == [("start_image", start.id),
                                                           ("keyframe", middle.id)]
    job = _through_the_api(api, body.model_dump(mode="json"))
    assert (job.params["speed"], job.params["fp8"], job.params["sound"]) == (
        "balanced", True, False)
    assert job.params["keyframes"] == [[8, 0.5]]


def test_a_bad_keyframe_flag_says_how_to_write_it():
    from api.cli import _keyframe
    from api.cli_output import ApiUsage

    with pytest.raises(ApiUsage, match="IMAGE@FRAME"):
        _keyframe(None, "storm.png", quiet=True)  # type: ignore[arg-type]


def test_the_presets_say_which_speeds_sound_and_keyframes_a_job_can_ask_for(api, installed):
    presets = {p["id"]: p for p in api.get("presets").json()}
    # The studio offers tiny every mode (its Preview variant is built in), as GET /presets.
    assert presets["tiny"]["speeds"] == ["quality", "balanced", "preview"]
    assert presets["demo-ltx2"]["makes_sound"] and not presets["tiny"]["makes_sound"]
    assert presets["ltx-video"]["max_keyframes"] > 0 and presets["tiny"]["max_keyframes"] == 0


# --- The edit studio, subjects and motion transfer through the studio and the API -------


@pytest.fixture
def clip(owner):
    """One of the owner's gallery videos: 2 s at 8 fps, 96 x 64, a real MP4."""
    from tests.editing.conftest import gallery_video
    from tests.editing.media import numbered_frames

    return gallery_video(owner, numbered_frames(16), fps=8)


@pytest.fixture
def mask(owner):
    from tests.editing.conftest import mask_upload
    from tests.editing.media import rect_mask

    return mask_upload(owner, rect_mask(96, 64, (10, 10, 40, 40)))


@pytest.fixture
def rex(owner):
    from tests.subjects.conftest import make_subject

    return make_subject(owner, "Rex", photos=2)


VACE_FORM = {"preset": "wan2.1-vace-1.3b", "prompt": "a red sailing boat", "negative_prompt": "",
             "size": "832x480", "num_frames": "5", "steps": "2", "guidance": "5.0", "seed": "3"}
VACE_BODY = {"preset": "wan2.1-vace-1.3b", "prompt": "a red sailing boat", "width": 832,
             "height": 480, "num_frames": 5, "steps": 2, "guidance": 5.0, "seed": 3}


def _source(clip) -> list[dict[str, str]]:
    return [{"role": "source_video", "video_id": str(clip.id)}]


def test_a_restyle_is_stored_alike_from_the_studio_and_the_api(studio, api, clip):
    from_studio = _through_the_studio(studio, {
        **form_data(size="128x128", num_frames="5", steps="2", seed="3"), "task": "v2v",
        "source_video": str(clip.id), "strength": "0.6", "trim_start": "0.5", "trim_end": ""})
    from_api = _through_the_api(api, {
        "task": "v2v", "preset": "tiny", "prompt": "a lighthouse at dusk", "width": 128,
        "height": 128, "num_frames": 5, "steps": 2, "guidance": 5.0, "seed": 3,
        "options": {"strength": 0.6, "trim_start": 0.5}, "inputs": _source(clip)})
    assert from_studio.kind == "v2v" and from_studio.params["strength"] == 0.6
    assert _stored(from_api) == _stored(from_studio)


def test_a_masked_edit_is_stored_alike_from_the_studio_and_the_api(studio, api, installed,
                                                                   clip, mask):
    from_studio = _through_the_studio(studio, {
        **VACE_FORM, "task": "edit", "source_video": str(clip.id), "mask": str(mask.id),
        "mode": "keep", "grow": "2", "feather": "6", "trim_start": "", "trim_end": "1.5"})
    from_api = _through_the_api(api, {
        **VACE_BODY, "task": "edit",
        "options": {"mode": "keep", "grow": 2, "feather": 6, "trim_end": 1.5},
        "inputs": [*_source(clip), {"role": "mask", "upload_id": str(mask.id)}]})
    assert from_studio.params["mode"] == "keep"
    assert _stored(from_api) == _stored(from_studio)


def test_a_reframe_is_stored_alike_from_the_studio_and_the_api(studio, api, installed, clip):
    from_studio = _through_the_studio(studio, {
        **VACE_FORM, "task": "reframe", "size": "480x832", "source_video": str(clip.id),
        "anchor": "start", "grow": "4", "feather": "4"})
    from_api = _through_the_api(api, {
        **VACE_BODY, "task": "edit", "width": 480, "height": 832,
        "options": {"mode": "reframe", "anchor": "start", "grow": 4, "feather": 4},
        "inputs": _source(clip)})
    assert from_studio.params["mode"] == "reframe"
    assert _stored(from_api) == _stored(from_studio)


def test_an_extension_is_stored_alike_from_the_studio_and_the_api(studio, api, installed,
                                                                  clip):
    from_studio = _through_the_studio(studio, {
        **VACE_FORM, "task": "extend", "num_frames": "17", "source_video": str(clip.id),
        "context_frames": "5", "join": "0", "trim_end": "1"})
    from_api = _through_the_api(api, {
        **VACE_BODY, "task": "extend", "num_frames": 17,
        "options": {"context_frames": 5, "join": False, "trim_end": 1.0},
        "inputs": _source(clip)})
    assert from_studio.kind == "extend" and from_studio.params["join"] is False
    assert _stored(from_api) == _stored(from_studio)


def test_a_job_with_a_subject_is_stored_alike_from_the_studio_and_the_api(studio, api,
                                                                         installed, rex):
    from_studio = _through_the_studio(studio, {**VACE_FORM, "task": "personalize",
                                               "prompt": "@Rex runs along a beach"})
    from_api = _through_the_api(api, {**VACE_BODY, "task": "personalize",
                                      "prompt": "@Rex runs along a beach"})
    assert from_studio.params["prompt"] == "Rex runs along a beach"
    assert from_studio.params["subjects"] == [{"name": "Rex", "kind": "object"}]
    assert _stored(from_api) == _stored(from_studio)
    assert [r.subject_id for r in from_api.inputs.order_by("position")] == [
        r.subject_id for r in from_studio.inputs.order_by("position")]


def test_a_swap_is_stored_alike_from_the_studio_and_the_api(studio, api, installed, rex,
                                                            clip, mask):
    # The studio's "Swap in a subject" is an edit with the subject's photos as references.
    from_studio = _through_the_studio(studio, {
        **VACE_FORM, "task": "swap", "prompt": "@Rex walks in", "source_video": str(clip.id),
        "mask": str(mask.id)})
    from_api = _through_the_api(api, {
        **VACE_BODY, "task": "edit", "prompt": "@Rex walks in",
        "inputs": [*_source(clip), {"role": "mask", "upload_id": str(mask.id)}]})
    assert from_studio.kind == "edit" and from_studio.params["prompt"] == "Rex walks in"
    assert _stored(from_api) == _stored(from_studio)


def test_a_motion_transfer_is_stored_alike_from_the_studio_and_the_api(studio, api, installed,
                                                                       clip):
    from_studio = _through_the_studio(studio, {
        **VACE_FORM, "task": "control", "source_video": str(clip.id), "control": "canny",
        "conditioning_scale": "0.8", "start_s": "0.5"})
    from_api = _through_the_api(api, {
        **VACE_BODY, "task": "control",
        "options": {"control": "canny", "conditioning_scale": 0.8, "start_s": 0.5},
        "inputs": _source(clip)})
    assert from_studio.params["control"] == "canny"
    assert _stored(from_api) == _stored(from_studio)
