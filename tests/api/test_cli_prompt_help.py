"""`framecraft improve` as a person runs it: the command as a subprocess against a real web
server (uvicorn) and a real models worker running the demo prompt model; its suggestion then
generates a job whose recipe keeps both prompts (`generate --original`)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from generation.models import Job
from tests.api.test_cli_library import _run
from tests.processes import free_port, start_web, start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
IDEA = "a paper boat on a pond"


def test_improve_prints_a_suggestion_to_generate_with(owner, owner_key, models, tmp_path):
    port = free_port()
    web = start_web(tmp_path / "web.log", port, FRAMECRAFT_MODELS_DIR=str(models))
    # The models queue only: the job made below waits, so its recipe is read as sent.
    worker = start_worker(tmp_path / "worker.log", queues=settings.CELERY_MODELS_QUEUE,
                          FRAMECRAFT_DEVICE="cpu", FRAMECRAFT_MODELS_DIR=str(models))
    studio = f"http://127.0.0.1:{port}"
    try:
        code, stdout, stderr = _run(studio, owner_key, "improve", IDEA, "-m", "tiny",
                                    cwd=tmp_path)
        assert code == 0, stderr + worker.log()
        suggestion = stdout.strip()
        assert suggestion and "\n" not in suggestion
        assert "In Wan's style, by demo-qwen" in stderr

        code, stdout, stderr = _run(studio, owner_key, "--json", "improve", IDEA, "-m", "tiny",
                                    "--task", "i2v", cwd=tmp_path)
        assert code == 0, stderr
        answer = json.loads(stdout)
        assert (answer["status"], answer["prompt"], answer["style"]) == (
            "succeeded", IDEA, "Wan")
        assert answer["suggestion"].strip()

        code, _, stderr = _run(studio, owner_key, "generate", suggestion, "-m", "tiny",
                               "--original", IDEA, "--steps", "2", cwd=tmp_path)
        assert code == 0, stderr
        job = Job.objects.get()
        assert (job.params["prompt"], job.params["prompt_original"]) == (suggestion, IDEA)

        # Refused with the studio's message, and a failed exit status.
        code, _, stderr = _run(studio, owner_key, "improve", "  ", "-m", "tiny", cwd=tmp_path)
        assert code == 1 and "Write a prompt first" in stderr and "422" in stderr
    finally:
        worker.stop()
        web.stop()
