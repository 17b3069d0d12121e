"""A real Celery worker on the models queue answers an Improve prompt request: the page's poll
finds the suggestion, and it is the one the prompt model gives for that request's seed."""

from __future__ import annotations

import pytest
from django.conf import settings

from generation import prompt_help
from tests.conftest import csrf_post
from tests.processes import start_worker, wait_for
from worker.catalogue import HELPERS
from worker.catalogue.prompting import style_for
from worker.editing.prompt_enhancer import enhance, forget

pytestmark = pytest.mark.worker
URL = "/studio/improve-prompt/"


def test_a_models_worker_answers_an_enhance_request(owner_client, offline_model_store,
                                                    tmp_path):
    worker = start_worker(tmp_path / "worker.log", queues=settings.CELERY_MODELS_QUEUE,
                          FRAMECRAFT_MODELS_DIR=str(offline_model_store), HF_HUB_OFFLINE="1",
                          FRAMECRAFT_DEVICE="cpu")
    try:
        response = csrf_post(owner_client, URL, {"prompt": "a paper boat on a pond",
                                                 "preset": "demo-ltx2", "task": "t2v"})
        assert response.status_code == 202
        request_id = response.content.decode().split("?id=")[1].split('"')[0]

        def answered_page() -> str | None:
            text = owner_client.get(URL, {"id": request_id}).content.decode()
            return None if "hx-trigger" in text else text

        page = wait_for(answered_page, 180, "the worker's suggestion", interval=0.5)
    finally:
        worker.stop()
    answered = prompt_help.load(request_id)
    assert answered is not None and answered.status == "succeeded", (answered, worker.log())
    assert page is not None and "Use this prompt" in page and "in LTX-2's style" in page
    forget()
    expected = enhance(HELPERS["demo-qwen"], "a paper boat on a pond", family="ltx2",
                       makes_sound=True, seed=answered.seed, device="cpu")
    assert answered.suggestion == expected.text and expected.style == style_for("ltx2").name
    assert "prompt request" in worker.log() and "LTX-2 style" in worker.log()
