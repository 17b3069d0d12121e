"""A schema-driven fuzz of the whole API: schemathesis makes requests from the OpenAPI
document (valid and invalid bodies, queries, path ids, headers) for every operation and fails
on any 5xx or any status the document does not list. Bounded for CI: a few examples per
operation, and the whole run must finish well within its time cap."""

from __future__ import annotations

import itertools
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.generation import GenerationMode

from webapp.wsgi import application

# Requests go through the WSGI app, which closes the connection after each: no test
# transaction can wrap them.
pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 5
TIME_CAP_S = 50.0
CHECKS = [not_a_server_error, status_code_conformance]


def test_no_operation_answers_a_5xx_or_an_undocumented_status(owner_key, media, owned):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    headers = {"Authorization": f"Bearer {owner_key}"}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the document lists every operation"
    paths = {operation.path for operation in operations}
    assert {"/subjects", "/subjects/{subject_id}/grants/{grant_id}", "/loras",
            "/loras/{lora_id}"} <= {path.removeprefix("/api/v1") for path in paths}
    # Valid requests and invalid ones (wrong types, missing fields, bad ids) for each.
    for operation, mode in itertools.product(operations, GenerationMode):

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        fuzz()
    elapsed = time.monotonic() - started
    assert elapsed < TIME_CAP_S, f"the fuzz took {elapsed:.0f} s; lower its examples"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # an upload the fuzz gets right stays here


@pytest.fixture
def owned(owner, stranger, media):
    """A subject (shared with someone) and a LoRA, so that the lists answer with rows."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from generation.loras import accept_lora
    from tests.loras.files import lora_bytes
    from tests.subjects.conftest import grant, make_subject

    grant(make_subject(owner, "Rex"), stranger)
    accept_lora(owner, SimpleUploadedFile("ink.safetensors", lora_bytes("tiny")), name="ink",
                purpose="style")
