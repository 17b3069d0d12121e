"""End to end on real processes: uvicorn serving the API, a Celery worker running the tiny
model on the CPU, and the `framecraft` client as a subprocess."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import av
import httpx
import pytest

from api.client import _sse_data
from api.models import WebhookEndpoint
from generation import fleet
from generation.models import Job, JobStatus, Upload
from tests.api.receiver import webhook_receiver
from tests.processes import ROOT, free_port, service_env, start_web, start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {"FRAMECRAFT_HEARTBEAT_SECONDS": "0.5", "FRAMECRAFT_PROGRESS_INTERVAL": "0.05",
              "FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture(scope="module")
def studio(django_db_setup, tmp_path_factory):
    """One web server and one worker for the module (they read whatever the tests write)."""
    folder = tmp_path_factory.mktemp("studio")
    media = str(folder / "media")
    port = free_port()
    web = start_web(folder / "web.log", port, FRAMECRAFT_MEDIA_ROOT=media)
    # The worker also delivers webhooks, after the job it is running.
    worker = start_worker(folder / "worker.log", queues="generation,webhooks",
                          FRAMECRAFT_MEDIA_ROOT=media, **WORKER_ENV)
    yield f"http://127.0.0.1:{port}"
    worker.stop()
    web.stop()


def _frames(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return len(frames), frames[0].width, frames[0].height


def test_a_job_is_created_followed_by_sse_downloaded_and_decodes(studio, owner, owner_key,
                                                                 tmp_path):
    headers = {"Authorization": f"Bearer {owner_key}"}
    with httpx.Client(base_url=f"{studio}/api/v1/", headers=headers, timeout=60) as http, \
            webhook_receiver() as receiver:
        hook = http.post("webhooks", json={"url": receiver.url,
                                           "events": ["started", "succeeded"]})
        assert hook.status_code == 422  # the web server refuses loopback addresses …
        WebhookEndpoint.objects.create(owner=owner, url=receiver.url, secret="whsec_test",
                                       events=["started", "succeeded"])  # … so the test adds it
        created = http.post("jobs", json={"preset": "tiny", "prompt": "a red fox in snow",
                                          "width": 160, "height": 96, "num_frames": 9,
                                          "steps": 6, "seed": 5})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        seen = []
        with http.stream("GET", f"jobs/{job_id}/events",
                         timeout=httpx.Timeout(60, read=120)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for data in _sse_data(stream.iter_lines()):
                seen.append(json.loads(data))
        statuses = [event["status"] for event in seen]
        assert statuses[-1] == "succeeded", seen[-1]
        assert "running" in statuses  # the stream ended by itself after the terminal state
        steps = [e["progress"]["step"] for e in seen if e["status"] == "running"]
        assert steps == sorted(steps) and max(steps) >= 1
        assert seen[-1]["progress"] == {"step": 6, "total": 6}

        video = http.get(f"videos/{seen[-1]['video_id']}").json()
        assert video["recipe"]["seed"] == 5 and video["job_id"] == job_id
        target = tmp_path / "fox.mp4"
        with http.stream("GET", video["file_url"]) as response:
            assert response.status_code == 200
            target.write_bytes(response.read())
        assert _frames(target) == (9, 160, 96)
        head = http.get(video["file_url"], headers={"Range": "bytes=0-7"})
        assert head.status_code == 206 and head.content[4:8] == b"ftyp"

        # The worker's lifecycle events reached the owner's webhook, signed.
        wait_for(lambda: len(receiver.received) >= 2, 60, "the webhooks")
        events = [json.loads(r.body) for r in receiver.received]
        assert [e["event"] for e in events] == ["job.started", "job.succeeded"]
        assert events[1]["data"]["video_id"] == video["id"]
        assert all(r.headers["Framecraft-Signature"].startswith("t=") for r in receiver.received)


def _as_in_a_terminal() -> None:
    # A test run started in the background of a script inherits SIGINT ignored, and Python
    # then leaves it ignored: the command would never see the Ctrl-C a person can type.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(studio: str, key: str, *args: str, cwd: Path, **popen) -> subprocess.Popen:
    env = service_env(FRAMECRAFT_URL=studio, FRAMECRAFT_API_KEY=key,
                      XDG_CONFIG_HOME=str(cwd / "config"), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_in_a_terminal, **popen)


def _run(studio: str, key: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    process = _cli(studio, key, *args, cwd=cwd)
    stdout, stderr = process.communicate(timeout=240)
    return process.returncode, stdout, stderr


def test_the_cli_generates_waits_saves_and_lists(studio, owner_key, owner, tmp_path):
    code, stdout, stderr = _run(studio, owner_key, "--json", "generate", "a red fox in snow",
                                "--model", "tiny", "--steps", "2", "--frames", "5",
                                "--wait", "-o", "fox.mp4", cwd=tmp_path)
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["job"]["status"] == "succeeded" and result["file"] == "fox.mp4"
    assert _frames(tmp_path / "fox.mp4")[0] == 5
    job_id = result["job"]["id"]

    code, stdout, _ = _run(studio, owner_key, "--json", "jobs", "ls", cwd=tmp_path)
    assert code == 0 and [j["id"] for j in json.loads(stdout)["items"]] == [job_id]
    code, stdout, _ = _run(studio, owner_key, "jobs", "show", job_id, cwd=tmp_path)
    assert code == 0 and job_id in stdout and "succeeded" in stdout
    code, _, stderr = _run(studio, owner_key, "jobs", "download", job_id, "-o", "again.mp4",
                           cwd=tmp_path)
    assert code == 0 and "Saved again.mp4" in stderr
    assert (tmp_path / "again.mp4").read_bytes() == (tmp_path / "fox.mp4").read_bytes()


def test_the_cli_uploads_inputs_and_says_why_a_job_is_refused(studio, owner_key, owner,
                                                              tmp_path):
    from tests.i2v.helpers import png_bytes

    (tmp_path / "start.png").write_bytes(png_bytes((200, 120)))
    code, _, stderr = _run(studio, owner_key, "generate", "a fox", "--model", "tiny",
                           "--task", "t2v", "--image", "start.png", cwd=tmp_path)
    assert code == 1
    assert "422 invalid_job" in stderr and "takes no start image" in stderr
    assert Upload.objects.filter(owner=owner, original_name="start.png").exists()
    assert not Job.objects.exists()


def test_the_cli_reads_the_key_from_its_config_file_and_refuses_a_bad_one(studio, tmp_path):
    config = tmp_path / "config" / "framecraft"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(f'url = "{studio}"\napi_key = "fc_nope_nope"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMECRAFT_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(ROOT))
    answer = subprocess.run([sys.executable, "-m", "api.cli", "presets"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 1 and "401 unauthenticated" in answer.stderr


def test_ctrl_c_while_waiting_offers_to_cancel_the_job(studio, owner_key, owner, tmp_path):
    # The worker is drained, so the job waits in the queue for as long as the test needs (the
    # longest tiny job ends about 1.5 s after its first step: too close to rely on).
    node = fleet.drain(f"test-{os.getpid()}@{socket.gethostname()}")
    controller, terminal = pty.openpty()
    try:
        process = _cli(studio, owner_key, "generate", "a waiting fox", "--model", "tiny",
                       "--wait", cwd=tmp_path, stdin=terminal)
        job = wait_for(lambda: Job.objects.filter(owner=owner).first(), 60, "the job")
        time.sleep(2)  # for the command to get its answer and start following the job
        process.send_signal(signal.SIGINT)
        os.write(controller, b"y\n")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
        fleet.undrain(node)
    assert process.returncode == 130, stderr
    assert "Cancel job" in stdout and "Cancelled job" in stderr
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 0)


def test_the_package_installs_the_framecraft_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["framecraft"] == "api.cli:main"
