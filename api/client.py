"""A small client of the REST API, shared by the `framecraft` command (Django-free).

It reads answers with the server's own schemas (api.schemas), so a change of shape shows up
as a validation error here rather than as a wrong value.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from api.schemas import (
    GrantOut,
    GrantRevoked,
    JobIn,
    JobOut,
    JobPage,
    LoraOut,
    PresetOut,
    Problem,
    PromptHelpIn,
    PromptHelpOut,
    SubjectIn,
    SubjectList,
    SubjectOut,
    UploadOut,
    VideoOut,
)

DEFAULT_URL = "http://127.0.0.1:8000"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "framecraft" / "config.toml"


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str | None


def load_settings(url: str | None = None, api_key: str | None = None) -> Settings:
    """Flags, then FRAMECRAFT_URL / FRAMECRAFT_API_KEY, then the config file."""
    file: dict[str, Any] = {}
    path = config_path()
    if path.exists():
        with path.open("rb") as handle:
            file = tomllib.load(handle)
    return Settings(
        url=(url or os.environ.get("FRAMECRAFT_URL") or file.get("url") or DEFAULT_URL
             ).rstrip("/"),
        api_key=api_key or os.environ.get("FRAMECRAFT_API_KEY") or file.get("api_key"))


class ApiProblem(Exception):
    def __init__(self, status: int, problem: Problem) -> None:
        fields = "; ".join(f"{k}: {v}" for k, v in problem.fields.items()
                           if v not in problem.message)
        super().__init__(problem.message + (f" ({fields})" if fields else ""))
        self.status, self.problem = status, problem


class Client:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        headers = {"User-Agent": "framecraft-cli/1"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self.http = httpx.Client(base_url=f"{settings.url}/api/v1/", headers=headers,
                                 timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            problem = Problem.model_validate(response.json())
        except (ValueError, json.JSONDecodeError):
            problem = Problem(code="http_error",
                              message=f"The server answered {response.status_code}.")
        raise ApiProblem(response.status_code, problem)

    def presets(self) -> list[PresetOut]:
        return [PresetOut.model_validate(p) for p in self._check(self.http.get("presets")).json()]

    def upload(self, path: Path) -> UploadOut:
        with path.open("rb") as handle:
            response = self.http.post("uploads", files={"file": (path.name, handle)},
                                      timeout=600)
        return UploadOut.model_validate(self._check(response).json())

    def subjects(self) -> SubjectList:
        return SubjectList.model_validate(self._check(self.http.get("subjects")).json())

    def subject(self, subject_id: UUID | str) -> SubjectOut:
        return SubjectOut.model_validate(
            self._check(self.http.get(f"subjects/{subject_id}")).json())

    def create_subject(self, subject: SubjectIn) -> SubjectOut:
        response = self.http.post("subjects", json=subject.model_dump(mode="json",
                                                                      exclude_none=True))
        return SubjectOut.model_validate(self._check(response).json())

    def add_photos(self, subject_id: UUID | str, paths: list[Path]) -> SubjectOut:
        handles = [path.open("rb") for path in paths]
        try:
            response = self.http.post(f"subjects/{subject_id}/photos", timeout=600, files=[
                ("file", (path.name, handle)) for path, handle in zip(paths, handles,
                                                                      strict=True)])
        finally:
            for handle in handles:
                handle.close()
        return SubjectOut.model_validate(self._check(response).json())

    def delete_subject(self, subject_id: UUID | str) -> None:
        self._check(self.http.delete(f"subjects/{subject_id}"))

    def grant(self, subject_id: UUID | str, username: str) -> GrantOut:
        response = self.http.post(f"subjects/{subject_id}/grants", json={"username": username})
        return GrantOut.model_validate(self._check(response).json())

    def revoke(self, subject_id: UUID | str, grant_id: int) -> GrantRevoked:
        response = self.http.delete(f"subjects/{subject_id}/grants/{grant_id}")
        return GrantRevoked.model_validate(self._check(response).json())

    def loras(self) -> list[LoraOut]:
        return [LoraOut.model_validate(item)
                for item in self._check(self.http.get("loras")).json()]

    def upload_lora(self, path: Path, name: str = "", purpose: str = "style",
                    base: str = "") -> LoraOut:
        with path.open("rb") as handle:
            response = self.http.post("loras", files={"file": (path.name, handle)},
                                      data={"name": name, "purpose": purpose, "base": base},
                                      timeout=600)
        return LoraOut.model_validate(self._check(response).json())

    def rename_lora(self, lora_id: UUID | str, name: str) -> LoraOut:
        response = self.http.patch(f"loras/{lora_id}", json={"name": name})
        return LoraOut.model_validate(self._check(response).json())

    def delete_lora(self, lora_id: UUID | str) -> None:
        self._check(self.http.delete(f"loras/{lora_id}"))

    def create_job(self, job: JobIn, idempotency_key: str | None = None) -> JobOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self.http.post("jobs", json=job.model_dump(mode="json", exclude_none=True),
                                  headers=headers)
        return JobOut.model_validate(self._check(response).json())

    def job(self, job_id: UUID | str) -> JobOut:
        return JobOut.model_validate(self._check(self.http.get(f"jobs/{job_id}")).json())

    def jobs(self, limit: int = 20, status: str | None = None,
             cursor: str | None = None) -> JobPage:
        params = {k: v for k, v in {"limit": limit, "status": status, "cursor": cursor}.items()
                  if v is not None}
        return JobPage.model_validate(self._check(self.http.get("jobs", params=params)).json())

    def cancel(self, job_id: UUID | str) -> JobOut:
        return JobOut.model_validate(self._check(self.http.post(f"jobs/{job_id}/cancel")).json())

    def video(self, video_id: UUID | str) -> VideoOut:
        return VideoOut.model_validate(self._check(self.http.get(f"videos/{video_id}")).json())

    def download(self, video_id: UUID | str, target: Path) -> int:
        """Write the video's MP4 to `target` (through a temporary name); its size."""
        partial = target.with_name(target.name + ".part")
        size = 0
        with self.http.stream("GET", f"videos/{video_id}/file", timeout=600,
                              follow_redirects=True) as response:
            if not response.is_success:
                response.read()
                self._check(response)
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    size += len(chunk)
        partial.replace(target)
        return size

    def ask_prompt_help(self, body: PromptHelpIn) -> PromptHelpOut:
        response = self.http.post("prompt-help", json=body.model_dump(mode="json"))
        return PromptHelpOut.model_validate(self._check(response).json())

    def prompt_help(self, help_id: UUID | str) -> PromptHelpOut:
        response = self.http.get(f"prompt-help/{help_id}")
        return PromptHelpOut.model_validate(self._check(response).json())

    def improve_prompt(self, body: PromptHelpIn, poll_s: float = 1.0) -> PromptHelpOut:
        """Ask, then poll until the prompt model answered (succeeded or failed: the server
        gives up on a request no worker answers, so this ends)."""
        answer = self.ask_prompt_help(body)
        while answer.status in ("queued", "running"):
            time.sleep(poll_s)
            answer = self.prompt_help(answer.id)
        return answer

    def follow(self, job_id: UUID | str) -> Iterator[JobOut]:
        """The job at each change (server-sent events) until it is terminal; a dropped
        stream is picked up again."""
        while True:
            last = None
            try:
                with self.http.stream("GET", f"jobs/{job_id}/events",
                                      timeout=httpx.Timeout(30.0, read=60.0)) as response:
                    if not response.is_success:
                        response.read()
                        self._check(response)
                    for data in _sse_data(response.iter_lines()):
                        last = JobOut.model_validate_json(data)
                        yield last
                        if last.is_terminal:
                            return
            except httpx.TransportError:
                pass
            if last is None:  # the stream gave nothing: read the job before trying again
                job = self.job(job_id)
                yield job
                if job.is_terminal:
                    return


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
