"""Per-expert LoRAs through the API and the CLI (issue 20): `expert` on a job's `loras` (or a
`lora` input) reaches the stored job as the studio's choice does; an unknown expert, or one
on a model of one transformer, is a 422 that says why; GET /presets says which models have
experts to choose."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.cli import _job_in, _parser
from api.cli_library import lora_use
from api.cli_output import ApiUsage
from generation.models import InputRole, Job
from tests.api.conftest import assert_problem
from tests.conftest import csrf_post
from tests.jobs import form_data
from tests.loras.conftest import A14B, A14B_FORM, a14b_lora, a14b_offered, media_root, tiny_lora

pytestmark = pytest.mark.django_db
__all__ = ["a14b_lora", "a14b_offered", "media_root", "tiny_lora"]  # fixtures, for this module

JOB = {"preset": A14B, "prompt": "a lighthouse at dusk", "seed": 3}


def _created(api, body) -> Job:
    response = api.post("jobs", body)
    assert response.status_code == 201, response.content
    return Job.objects.get(pk=response.json()["id"])


def test_an_expert_in_loras_or_a_lora_input_is_stored(api, a14b_offered, a14b_lora):
    job = _created(api, {**JOB, "loras": [{"id": str(a14b_lora.pk), "strength": 0.8,
                                           "expert": "low_noise"}]})
    row = job.inputs.get(role=InputRole.LORA)
    assert (row.upload_id, row.strength, row.expert) == (a14b_lora.pk, 0.8, "low_noise")
    (listed,) = api.get(f"jobs/{job.id}").json()["inputs"]
    assert (listed["role"], listed["expert"]) == ("lora", "low_noise")
    # A job's inputs, sent back, mean the same job.
    again = _created(api, {**JOB, "inputs": [{"role": "lora", "upload_id": str(a14b_lora.pk),
                                              "strength": 0.8, "expert": "low_noise"}]})
    assert again.inputs.get(role=InputRole.LORA).expert == "low_noise"
    unset = _created(api, {**JOB, "loras": [{"id": str(a14b_lora.pk)}]})
    assert unset.inputs.get(role=InputRole.LORA).expert == "both"


def test_an_expert_is_stored_alike_from_the_studio_and_the_api(api, owner_client, a14b_offered,
                                                               a14b_lora):
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        **A14B_FORM, seed="3", lora_1=str(a14b_lora.pk), lora_strength_1="0.8",
        lora_expert_1="high_noise"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    from_studio = Job.objects.get()
    from_api = _created(api, {**JOB, "loras": [{"id": str(a14b_lora.pk), "strength": 0.8,
                                                "expert": "high_noise"}]})

    def stored(job: Job) -> tuple[object, ...]:
        row = job.inputs.get()
        return job.preset, job.params, row.role, row.upload_id, row.strength, row.expert

    assert stored(from_api) == stored(from_studio)


def test_an_unknown_expert_is_refused_with_the_experts(api, a14b_offered, a14b_lora):
    body = assert_problem(api.post("jobs", {**JOB, "loras": [
        {"id": str(a14b_lora.pk), "expert": "middle"}]}), 422, "invalid")
    (message,) = body["fields"].values()
    assert all(name in message for name in ("both", "high_noise", "low_noise")), message
    assert not Job.objects.exists()


def test_an_expert_on_a_model_of_one_transformer_is_refused(api, tiny_lora):
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x", "loras": [
        {"id": str(tiny_lora.pk), "expert": "high_noise"}]}), 422, "invalid_job")
    assert body["fields"]["loras"].startswith(
        "A LoRA cannot go into one expert of Tiny random model")
    assert "leave the expert at “both”" in body["fields"]["loras"]
    assert not Job.objects.exists()


def test_only_a_lora_input_has_an_expert(api, owner):
    from tests.i2v.helpers import image_upload

    start = image_upload(owner)
    body = assert_problem(api.post("jobs", {"preset": "tiny", "prompt": "x", "inputs": [
        {"role": "start_image", "upload_id": str(start.id), "expert": "low_noise"}]}), 422,
        "invalid")
    assert "only a lora input has an expert" in body["message"]


def test_the_presets_say_which_models_have_experts_for_loras(api, a14b_offered):
    presets = {p["id"]: p for p in api.get("presets").json()}
    assert presets[A14B]["lora_experts"] == ["both", "high_noise", "low_noise"]
    assert presets["tiny"]["lora_experts"] == []


# --- The CLI ------------------------------------------------------------------------------


def test_the_cli_reads_lora_strength_and_expert(a14b_lora):
    lora = str(a14b_lora.pk)  # an id: nothing is asked of the server
    reads = {f"{lora}:0.7:high_noise": (0.7, "high_noise"), f"{lora}:0.7": (0.7, "both"),
             lora: (1.0, "both")}
    for value, (strength, expert) in reads.items():
        use = lora_use(None, value)  # type: ignore[arg-type]
        assert (use.id, use.strength, use.expert) == (a14b_lora.pk, strength, expert), value
    with pytest.raises(ApiUsage, match="one of both, high_noise, low_noise"):
        lora_use(None, f"{lora}:0.7:middle")  # type: ignore[arg-type]


def test_the_clis_expert_reaches_the_stored_job(api, a14b_offered, a14b_lora):
    args = _parser().parse_args(["generate", "a lighthouse at dusk", "--model", A14B,
                                 "--lora", f"{a14b_lora.pk}:0.6:low_noise", "--seed", "3"])
    body = _job_in(None, args, quiet=True)  # type: ignore[arg-type]  # ids: no calls
    job = _created(api, body.model_dump(mode="json"))
    row = job.inputs.get(role=InputRole.LORA)
    assert (row.strength, row.expert) == (0.6, "low_noise")
