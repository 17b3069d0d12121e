"""`framecraft subjects …` and `framecraft loras …` as a person runs them: the command as a
subprocess against a real web server (uvicorn), and jobs that use what it made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generation.models import InputRole, Job, JobInput, Lora, Subject, SubjectGrant
from tests.i2v.helpers import png_bytes
from tests.loras.files import lora_bytes
from tests.processes import ROOT, free_port, service_env, start_web
from tests.subjects.conftest import VACE, tiny_vace_dir

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["tiny_vace_dir"]  # the session's fixture, for this module


@pytest.fixture(scope="module")
def studio(django_db_setup, tmp_path_factory, tiny_vace_dir):
    """A web server whose models folder holds a tiny Wan VACE (jobs wait: no worker)."""
    folder = tmp_path_factory.mktemp("studio")
    models = folder / "models"
    models.mkdir()
    (models / VACE).symlink_to(tiny_vace_dir, target_is_directory=True)
    port = free_port()
    web = start_web(folder / "web.log", port, FRAMECRAFT_MEDIA_ROOT=str(folder / "media"),
                    FRAMECRAFT_MODELS_DIR=str(models))
    yield f"http://127.0.0.1:{port}"
    web.stop()


def _run(studio: str, key: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    env = service_env(FRAMECRAFT_URL=studio, FRAMECRAFT_API_KEY=key,
                      XDG_CONFIG_HOME=str(cwd / "config"), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    # Messages on stderr as one line (rich wraps them at the terminal's width).
    return done.returncode, done.stdout, " ".join(done.stderr.split())


def test_subjects_are_made_from_files_shared_used_by_name_and_deleted(
        studio, owner, owner_key, stranger, stranger_key, tmp_path):
    for index in range(2):
        (tmp_path / f"rex-{index}.png").write_bytes(png_bytes((96 + 8 * index, 96)))
    code, stdout, stderr = _run(studio, owner_key, "--json", "subjects", "create", "Rex",
                                "rex-0.png", "rex-1.png", "--kind", "object", cwd=tmp_path)
    assert code == 0, stderr
    made = json.loads(stdout)
    assert (made["name"], made["kind"], len(made["photos"])) == ("Rex", "object", 2)
    code, stdout, _ = _run(studio, owner_key, "subjects", "ls", cwd=tmp_path)
    assert code == 0 and "@Rex" in stdout and made["id"] in stdout
    (tmp_path / "rex-2.png").write_bytes(png_bytes((120, 90)))
    code, stdout, stderr = _run(studio, owner_key, "subjects", "add", "Rex", "rex-2.png",
                                cwd=tmp_path)
    assert code == 0 and "@Rex" in stdout and stdout.count("photo ") == 3, stderr

    code, stdout, stderr = _run(studio, owner_key, "subjects", "grant", "rex", "stranger",
                                cwd=tmp_path)
    assert code == 0 and "stranger may now use @Rex." in stdout, stderr
    assert SubjectGrant.objects.get().user == stranger
    # The grantee names it in a prompt; the task follows from the @name.
    code, stdout, stderr = _run(studio, stranger_key, "--json", "generate",
                                "@Rex runs along a beach", "--model", VACE, "--frames", "5",
                                "--steps", "2", cwd=tmp_path)
    assert code == 0, stderr
    job = Job.objects.get(pk=json.loads(stdout)["id"])
    assert (job.owner, job.kind, job.params["prompt"]) == (stranger, "personalize",
                                                           "Rex runs along a beach")
    assert JobInput.objects.filter(job=job, subject_id=made["id"]).count() == 3

    code, stdout, _ = _run(studio, owner_key, "subjects", "revoke", "Rex", "stranger",
                           cwd=tmp_path)
    assert code == 0 and "1 of their waiting jobs used it and failed." in stdout
    code, _, stderr = _run(studio, stranger_key, "subjects", "show", made["id"], cwd=tmp_path)
    assert code == 1 and "404 not_found" in stderr
    code, stdout, _ = _run(studio, owner_key, "subjects", "delete", "Rex", cwd=tmp_path)
    assert code == 0 and "Deleted @Rex" in stdout
    assert not Subject.objects.exists()


def test_a_subject_is_refused_with_the_studios_message(studio, owner_key, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    code, _, stderr = _run(studio, owner_key, "subjects", "create", "two words", "a.png",
                           cwd=tmp_path)
    assert code == 1 and "422 invalid_subject" in stderr
    assert "Use letters, digits, - and _ only" in stderr
    code, _, stderr = _run(studio, owner_key, "subjects", "delete", "Nobody", cwd=tmp_path)
    assert code == 2 and "You have no subject called 'Nobody'." in stderr


def test_loras_are_uploaded_renamed_used_by_name_and_deleted(studio, owner, owner_key,
                                                            tmp_path):
    (tmp_path / "paper.safetensors").write_bytes(lora_bytes("tiny"))
    code, stdout, stderr = _run(studio, owner_key, "loras", "upload", "paper.safetensors",
                                "--base", "tiny", "--purpose", "subject", cwd=tmp_path)
    assert code == 0 and "Added the LoRA “paper”" in stdout, stderr
    lora = Lora.objects.get(owner=owner)
    assert (lora.name, lora.purpose, lora.base) == ("paper", "subject", "tiny")
    code, stdout, _ = _run(studio, owner_key, "loras", "rename", "paper", "paper cut",
                           cwd=tmp_path)
    assert code == 0 and "Renamed it “paper cut”." in stdout
    code, stdout, _ = _run(studio, owner_key, "--json", "loras", "ls", cwd=tmp_path)
    assert [item["name"] for item in json.loads(stdout)] == ["paper cut"]

    code, stdout, stderr = _run(studio, owner_key, "--json", "generate", "a fox", "--model",
                                "tiny", "--lora", "paper cut:0.8", cwd=tmp_path)
    assert code == 0, stderr
    row = JobInput.objects.get(job_id=json.loads(stdout)["id"], role=InputRole.LORA)
    assert (row.upload_id, row.strength) == (lora.pk, 0.8)

    code, stdout, _ = _run(studio, owner_key, "loras", "delete", str(lora.pk), cwd=tmp_path)
    assert code == 0 and "Deleted the LoRA" in stdout
    assert not Lora.objects.exists()


def test_a_file_that_is_no_lora_is_refused_with_the_reason(studio, owner_key, tmp_path):
    (tmp_path / "photo.safetensors").write_bytes(png_bytes())
    code, _, stderr = _run(studio, owner_key, "loras", "upload", "photo.safetensors",
                           cwd=tmp_path)
    assert code == 1 and "422 lora_refused" in stderr
    assert "does not start the way a .safetensors file does" in stderr
    assert not Lora.objects.exists()
