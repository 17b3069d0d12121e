"""The OpenAPI document is valid OpenAPI 3, and the docs page is served from our own files."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Swagger UI's YAML parser refuses a document with a key twice; json.loads would not.
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicated keys in {keys}"
    return dict(pairs)


def test_the_openapi_document_is_valid_and_describes_every_route():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=_no_duplicate_keys)
    validate(document)
    paths = document["paths"]
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}/events", "/api/v1/presets",
            "/api/v1/uploads", "/api/v1/videos/{video_id}/sharing",
            "/api/v1/webhooks"} <= set(paths)
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"code", "message", "fields"}
    assert "text/event-stream" in paths["/api/v1/jobs/{job_id}/events"]["get"][
        "responses"]["200"]["content"]


def test_the_docs_page_uses_vendored_swagger_ui_without_inline_script():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html and "cdn" not in html.lower()
    for src in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(src), src
    assert "script-src 'self'" in response["Content-Security-Policy"]
