"""Background removal: the suggested crop from a mask, a tiny random SegFormer (the catalogue's
"background" helper model) saved in the Hub's layout and loaded through the production loader,
and the models worker (a real Celery worker on the `models` queue) making a new photo's
cutout."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from generation.models import CutoutStatus, Subject, Upload
from tests.conftest import csrf_post
from tests.i2v.helpers import png_bytes
from tests.processes import Service, service_env, wait_for
from worker.catalogue import HELPERS, helper_for, weights
from worker.catalogue.helpers import build_helper
from worker.runtime.background import NoSubjectFound, crop_from_mask, remove_background

REMOVER = "segformer-b2-clothes"


def test_the_crop_is_the_masks_box_with_a_margin():
    mask = np.zeros((100, 200), np.float32)
    mask[20:60, 50:90] = 1.0  # 40 x 40: a margin of 3 pixels
    assert crop_from_mask(mask) == (47, 17, 93, 63)
    mask[:, :] = 0
    mask[0:50, 150:200] = 0.9  # at the edge: the margin stops at the photo's border
    assert crop_from_mask(mask) == (146, 0, 200, 54)


def test_a_photo_that_is_all_background_has_no_crop():
    with pytest.raises(NoSubjectFound, match="No subject stands out"):
        crop_from_mask(np.full((50, 50), 0.2, np.float32))


def _tiny_segmenter(folder: Path, subject_everywhere: bool) -> Path:
    """A tiny SegFormer whose classifier says "subject" (Hair) or "background" everywhere."""
    folder.mkdir(parents=True, exist_ok=True)
    model, processor = build_helper(REMOVER, "tiny")
    with torch.no_grad():
        classifier = model.decode_head.classifier
        classifier.weight.zero_()
        classifier.bias.fill_(-5.0)
        classifier.bias[2 if subject_everywhere else 0] = 5.0
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_the_production_loader_runs_a_tiny_checkpoint(tmp_path):
    photo = Image.new("RGB", (120, 80), (200, 40, 40))
    subject = remove_background(photo, _tiny_segmenter(tmp_path / "all", True))
    assert subject.crop == (0, 0, 120, 80)
    assert subject.image.size == (120, 80) and subject.image.mode == "RGB"
    assert subject.image.getpixel((60, 40)) == (200, 40, 40)
    assert np.asarray(subject.mask).min() > 250
    with pytest.raises(NoSubjectFound):
        remove_background(photo, _tiny_segmenter(tmp_path / "none", False))


@pytest.fixture
def models_worker(models: Path, tmp_path: Path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    _tiny_segmenter(models / REMOVER, subject_everywhere=True)
    worker = Service(
        [sys.executable, "-m", "celery", "-A", "webapp",
         "worker", "--pool", "prefork", "--concurrency", "1", "--queues",
         settings.CELERY_MODELS_QUEUE, "--hostname", "models-test@%h", "--loglevel", "INFO",
         "--without-mingle", "--without-gossip"],
        service_env(FRAMECRAFT_MODELS_DIR=str(models)), tmp_path / "models-worker.log")
    wait_for(lambda: "ready." in worker.log() or worker.process.poll() is not None, 60,
             "the models worker to start")
    assert worker.process.poll() is None, worker.log()
    yield worker
    worker.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_models_worker_removes_a_new_photos_background(owner_client, owner, models_worker):
    owner_client.get(reverse("subjects"))
    response = csrf_post(owner_client, reverse("new_subject"), {
        "name": "Rex", "kind": "object",
        "photo_files": [SimpleUploadedFile("rex.png", png_bytes((160, 96)))]})
    assert response.status_code == 302, response.content.decode()
    photo = Subject.objects.get(owner=owner).photos.get()
    assert photo.cutout_status == CutoutStatus.PENDING
    page = owner_client.get(reverse("subject_detail", args=[photo.subject_id])).content.decode()
    assert 'hx-trigger="every 2s"' in page  # the page polls until the cutout is made

    def made() -> bool:
        photo.refresh_from_db()
        return photo.cutout_status != CutoutStatus.PENDING

    wait_for(made, 120, "the cutout", interval=0.3)
    assert photo.cutout_status == CutoutStatus.READY, (photo.cutout_message,
                                                       models_worker.log())
    assert photo.crop == [0, 0, 160, 96]
    cutout = Upload.objects.get(pk=photo.cutout_id)
    assert (cutout.owner, cutout.kind, cutout.width, cutout.height) == (owner, "image", 160, 96)
    assert cutout.metadata["cutout_of"] == str(photo.original_id)
    assert photo.chosen == cutout
    polled = owner_client.get(reverse("subject_photos", args=[photo.subject_id]))
    assert "every 2s" not in polled.content.decode()
    assert 'data-version="cutout"' in polled.content.decode()


def test_background_removal_is_the_segformer_helper(monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")  # no demo helper stands in
    remover = helper_for("background")
    assert remover is HELPERS[REMOVER]
    assert (remover.model_class, remover.source) == ("SegformerForSemanticSegmentation",
                                                     "mattmdjaga/segformer_b2_clothes")
    assert remover.tasks == ("background removal (subject photos)",)


def test_the_segmenter_installs_like_any_other_weights(models, monkeypatch):
    monkeypatch.setenv("FRAMECRAFT_DEMO_MODELS", "0")  # no demo helper stands in
    remover = helper_for("background")
    assert not remover.is_installed()
    assert weights.verify(remover) == ["not installed"]
    with pytest.raises(weights.WeightsError, match="Cannot reach the Hugging Face Hub"):
        weights.fetch(remover, say=lambda line: None)
    _tiny_segmenter(models / remover.id, subject_everywhere=True)
    assert remover.installed_path() == models / remover.id
    assert weights.verify(remover) == []
    assert weights._sources(remover) == [(remover.source, None, None,
                                          weights.HELPER_PATTERNS)]
    (models / remover.id / "preprocessor_config.json").unlink()
    assert not remover.is_installed()
    assert weights.verify(remover) == [f"{models / remover.id} is incomplete (a component or "
                                       "weight file is missing)"]
    assert weights.remove(remover) > 0 and not remover.is_installed()
