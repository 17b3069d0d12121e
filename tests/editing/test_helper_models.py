"""Helper models go through the same install machinery as presets: the admin's Models page
lists them, a worker verifies and removes them, and an offline install fails clearly."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import JobStatus, ModelAction, ModelOperation
from tests.conftest import make_user
from worker.catalogue import HELPERS, weights
from worker.catalogue.helpers import save_helper
from worker.models_volume import carry_out

DEPTH = "depth-anything-v2-small"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_the_models_page_lists_helpers_with_their_state(admin_client, models):
    save_helper(DEPTH, models / DEPTH)
    page = admin_client.get(reverse("admin:generation_modeloperation_changelist")).content
    text = page.decode()
    for helper in HELPERS.values():
        assert helper.id in text and (helper.source is None or helper.source in text)
    assert "depth maps (motion transfer)" in text and "mask tracking (masked edits)" in text
    assert "background removal (subject photos)" in text
    assert str(models / DEPTH) in text  # installed, with its folder


def test_a_worker_verifies_then_removes_a_helper(models, db):
    save_helper(DEPTH, models / DEPTH)
    verify = ModelOperation.objects.create(preset=DEPTH, action=ModelAction.VERIFY)
    assert carry_out(verify.pk, "test") == JobStatus.SUCCEEDED
    (models / DEPTH / "model.safetensors").write_bytes(b"not safetensors")
    problems = weights.verify(HELPERS[DEPTH])
    assert len(problems) == 1 and problems[0].startswith("model.safetensors is unreadable")
    remove = ModelOperation.objects.create(preset=DEPTH, action=ModelAction.REMOVE)
    assert carry_out(remove.pk, "test") == JobStatus.SUCCEEDED
    assert not HELPERS[DEPTH].is_installed() and not (models / DEPTH).exists()


def test_installing_a_helper_offline_fails_with_what_to_do(models, db):
    install = ModelOperation.objects.create(preset="vitpose-base", action=ModelAction.INSTALL)
    assert carry_out(install.pk, "test") == JobStatus.FAILED
    install.refresh_from_db()
    assert "Cannot reach the Hugging Face Hub" in install.message
    assert "usyd-community/vitpose-base-simple" in install.message
