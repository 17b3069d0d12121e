"""A preview is an extra: latents it cannot show (LTX-Video's packed (B, tokens, C) ones
before the runner unpacked them) cost the job its preview, never its step counter."""

from __future__ import annotations

import logging

import pytest
import torch

from generation import lifecycle
from tests.jobs import make_job
from worker.catalogue import StepInfo
from worker.progress import ProgressReporter

pytestmark = pytest.mark.django_db(transaction=True)


def test_latents_without_a_preview_still_count_every_step(owner, settings, caplog):
    settings.FRAMECRAFT_PROGRESS_INTERVAL = 0.0  # every step is written
    job = make_job(owner, steps=4)
    claimed = lifecycle.claim("preview-worker")
    assert claimed is not None and claimed.pk == job.pk
    packed = torch.randn(1, 40, 128)  # what LTX-Video's step callback hands over
    with caplog.at_level(logging.WARNING, "framecraft.worker"), \
            ProgressReporter(job.id, claimed.attempts, interval=0.0) as reporter:
        for step in range(1, 5):
            reporter.on_step(StepInfo(step=step, total=4, elapsed_s=0.1 * step,
                                      latents=packed))
    job.refresh_from_db()
    assert (job.progress_step, job.progress_total) == (4, 4)
    assert reporter.events_sent >= 1
    failures = [r for r in caplog.records if "no preview" in r.getMessage()]
    assert len(failures) == 1  # logged once, not at every step
    assert not [r for r in caplog.records if "writing progress failed" in r.getMessage()]
