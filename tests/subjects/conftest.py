"""Subjects' fixtures: a tiny Wan VACE checkpoint in the models folder (built once per
session, saved in the Hub's layout), subjects with photos, and a user the owner may grant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generation.models import CutoutStatus, Subject, SubjectGrant, SubjectPhoto
from tests.conftest import make_user
from tests.i2v.helpers import image_upload

VACE = "wan2.1-vace-1.3b"


@pytest.fixture(scope="session")
def tiny_vace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from worker.catalogue import build_pipeline

    folder = tmp_path_factory.mktemp("vace") / VACE
    build_pipeline(VACE, "tiny", seed=0).save_pretrained(folder)
    return folder


@pytest.fixture
def vace(models: Path, tiny_vace_dir: Path) -> Path:
    """Wan VACE 1.3B "installed": the tiny checkpoint in the (empty) models folder."""
    (models / VACE).symlink_to(tiny_vace_dir, target_is_directory=True)
    return models


@pytest.fixture
def friend(db: Any) -> Any:
    return make_user("friend")


def make_subject(owner: Any, name: str = "Rex", kind: str = "object", photos: int = 2,
                 **fields: Any) -> Subject:
    subject = Subject.objects.create(owner=owner, name=name, kind=kind, **fields)
    for index in range(photos):
        SubjectPhoto.objects.create(
            subject=subject, position=index, cutout_status=CutoutStatus.UNAVAILABLE,
            use_cutout=False,
            original=image_upload(owner, (96 + 16 * index, 96), (40 * index, 90, 200)))
    return subject


def grant(subject: Subject, user: Any) -> SubjectGrant:
    return SubjectGrant.objects.create(subject=subject, user=user)


def personalize_data(**overrides: Any) -> dict[str, Any]:
    data = {"task": "personalize", "preset": VACE, "prompt": "@Rex runs along a beach",
            "negative_prompt": "", "size": "832x480", "num_frames": "5", "steps": "2",
            "guidance": "5.0", "seed": "11"}
    data.update(overrides)
    return data
