"""Locust people for bench/load.py (run it, not this file: it makes the people, their sessions,
the web server and the worker, then starts Locust on this file and checks what came back).

Each simulated person is signed in (a session bench/load.py made), keeps the studio's
websocket open from start to end, and browses: the studio, the gallery, Explore, the job
list's next page. Until ``FRAMECRAFT_LOAD_RUN_S`` has passed they submit tiny jobs through the
studio's form, one at a time and at most ``FRAMECRAFT_LOAD_JOBS`` each (within their limit of
active jobs), then they stop submitting and wait, socket open, until it has shown the final
state of each of their jobs (``FRAMECRAFT_LOAD_DRAIN_S`` at most). What each socket showed (the
jobs its cards named, and their final states) and every answer of 500 or more are written to
``FRAMECRAFT_LOAD_RESULTS`` when Locust stops. Between two requests a person waits
``FRAMECRAFT_LOAD_THINK`` seconds ("min,max", drawn evenly; default 1,3).
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import gevent
import websocket
from locust import HttpUser, between, events, task

PEOPLE: list[dict[str, str]] = json.loads(
    open(os.environ["FRAMECRAFT_LOAD_PEOPLE"]).read())  # noqa: SIM115
RESULTS = os.environ["FRAMECRAFT_LOAD_RESULTS"]
JOBS_EACH = int(os.environ.get("FRAMECRAFT_LOAD_JOBS", "1"))
RUN_S = float(os.environ.get("FRAMECRAFT_LOAD_RUN_S", "60"))
DRAIN_S = float(os.environ.get("FRAMECRAFT_LOAD_DRAIN_S", "300"))
THINK_MIN, THINK_MAX = (float(v) for v in os.environ.get("FRAMECRAFT_LOAD_THINK", "1,3").split(","))
SESSION_COOKIE = os.environ.get("FRAMECRAFT_LOAD_SESSION_COOKIE", "sessionid")
FINAL = {"succeeded", "failed", "cancelled"}
CARD = re.compile(r'<article id="job-([0-9a-f-]{36})" class="job-card status-(\w+)')
MENTION = re.compile(r'job-([0-9a-f-]{36})')
JOB_FORM = {"task": "t2v", "preset": "tiny", "negative_prompt": "", "size": "128x128",
            "num_frames": "5", "steps": "2", "guidance": "5.0", "seed": ""}

# Locust runs every person in one process (gevent): plain module state is shared safely.
records: dict[str, dict[str, Any]] = {}
server_errors: list[dict[str, Any]] = []
started_at = time.monotonic()
people_left = iter(PEOPLE)
drained: set[str] = set()


@events.request.add_listener
def _note_server_errors(request_type: str, name: str, response: Any, **kwargs: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    if status >= 500:
        server_errors.append({"name": name, "status": status})


@events.quitting.add_listener
def _write_results(environment: Any, **kwargs: Any) -> None:
    with open(RESULTS, "w") as out:
        json.dump({"people": records, "server_errors": server_errors}, out)


class Person(HttpUser):
    wait_time = between(THINK_MIN, THINK_MAX)

    def on_start(self) -> None:
        self.me = next(people_left)
        self.record: dict[str, Any] = records.setdefault(self.me["name"], {
            "submitted": [], "refused": 0, "seen": [], "final": {}, "messages": 0,
            "socket_error": "", "connected_s": None})
        self.client.cookies.set(SESSION_COOKIE, self.me["session"])
        self.client.get("/studio/", name="studio page")  # its csrftoken cookie
        self.seen: set[str] = set()
        started = time.monotonic()
        host = (self.host or "").split("://", 1)[1]  # bench/load.py always passes --host
        self.socket = websocket.create_connection(
            f"ws://{host}/ws/jobs/", origin=self.host, timeout=120,
            cookie=f"{SESSION_COOKIE}={self.me['session']}")
        self.record["connected_s"] = time.monotonic() - started
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        """Every message the socket brings: which jobs it names, and their final states."""
        while True:
            try:
                received = self.socket.recv()
            except Exception as problem:  # closed at the end, or broken: said in the results
                if self.me["name"] not in drained:
                    self.record["socket_error"] = repr(problem)[:200]
                return
            # The server sends text frames (the page's partials).
            message = received.decode() if isinstance(received, bytes) else received
            self.record["messages"] += 1
            # The last few, whole: what a failed check can be read against.
            self.record["last"] = [*self.record.get("last", [])[-2:], message[:4000]]
            self.seen.update(MENTION.findall(message))
            for job_id, status in CARD.findall(message):
                if status in FINAL:
                    self.record["final"][job_id] = status

    def on_stop(self) -> None:
        self.record["seen"] = sorted(self.seen)
        drained.add(self.me["name"])
        self.socket.close()
        self.reader.join(5)

    @task(4)
    def studio(self) -> None:
        if self._draining():
            return
        self.client.get("/studio/", name="studio page")

    @task(3)
    def gallery(self) -> None:
        if not self._draining():
            self.client.get("/gallery/", name="gallery")

    @task(1)
    def explore(self) -> None:
        if not self._draining():
            self.client.get("/explore/", name="explore")

    @task(3)
    def submit(self) -> None:
        if self._draining() or len(self.record["submitted"]) >= JOBS_EACH:
            return
        if any(job not in self.record["final"] for job in self.record["submitted"]):
            return  # one at a time: the last one is still going
        token = self.client.cookies.get("csrftoken", "")
        n = len(self.record["submitted"])
        with self.client.post(
                "/jobs/", data={**JOB_FORM, "prompt": f"{self.me['name']} take {n}"},
                headers={"HX-Request": "true", "X-CSRFToken": token,
                         "Referer": f"{self.host}/studio/"},
                name="submit a job", catch_response=True) as answer:
            # The answer is the form again and the whole job list: the new job is the card
            # not seen there before.
            made = [job for job, _ in CARD.findall(answer.text or "")
                    if job not in self.record["submitted"] and job not in self.record["final"]]
            if answer.status_code == 200 and made:
                self.record["submitted"].append(made[0])
                answer.success()
            elif answer.status_code in (422, 429):
                self.record["refused"] += 1  # a limit said no, clearly: not a failure
                answer.success()

    def _draining(self) -> bool:
        """Past the run: no more browsing or submitting; wait for the socket to show each job
        done, then leave (the last one out stops Locust)."""
        if time.monotonic() - started_at < RUN_S:
            return False
        done = all(job in self.record["final"] for job in self.record["submitted"])
        if done or time.monotonic() - started_at > RUN_S + DRAIN_S:
            self.record["seen"] = sorted(self.seen)
            drained.add(self.me["name"])
            if len(drained) >= len(records) and self.environment.runner is not None:
                # From a greenlet of its own: quitting stops every person's greenlet, this
                # one too, which would end the call halfway and leave Locust running until
                # its --run-time (the whole drain time, however early everyone was done).
                gevent.spawn(self.environment.runner.quit)
        return True
