"""A fake Hugging Face Hub for tests: model repositories served from memory over real HTTP.

It answers exactly what huggingface_hub 2.x asks of the Hub for `HfApi.model_info(...,
files_metadata=True)` and `snapshot_download(...)`:

- `GET /api/models/<repo>[/revision/<rev>]` (`?blobs=true` adds sizes, blob ids, LFS data): the
  repo's commit (`sha`) and its files (`siblings`);
- `GET /api/models/<repo>/tree/<rev>[/<path>]?recursive=...`: the file listing snapshot_download
  filters with its allow and ignore patterns;
- `HEAD`/`GET /<repo>/resolve/<rev>/<path>`: a small file with `X-Repo-Commit`, `ETag` (its git
  blob id) and `Content-Length`; an LFS file (weights) as a 302 to a second server, the "CDN",
  with `X-Linked-Etag` (its sha256) and `X-Linked-Size`, the way the real Hub answers. The CDN
  is another origin, so huggingface_hub reads the metadata off the redirect and downloads from
  the CDN directly, dropping auth; it honours `Range` requests (resumed downloads).

No Xet headers (`X-Xet-Hash`, `Link: ...; rel="xet-auth"`) and no `xetHash` fields are ever sent,
so downloads take the plain HTTP path even with hf_xet installed. Errors carry the
`X-Error-Code` the client maps to its exceptions (RepoNotFound, RevisionNotFound, EntryNotFound).

A repository is a mapping of paths to bytes, fixed when added (like a commit); its metadata may
claim other sizes than the bytes served (`HubRepo.claimed_sizes`). Every request is logged, so
tests can assert what was and was not downloaded.

    with FakeHub() as hub:
        hub.add_repo("org/model", files_in(folder))
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

# Files the Hub keeps in Git LFS (by the default .gitattributes): served through the CDN.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".onnx", ".msgpack")
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API_INFO = re.compile(rf"^/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?$")
_API_TREE = re.compile(rf"^/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$")
_RESOLVE = re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_CDN = re.compile(rf"^/cdn/{_REPO}/(?P<rev>[0-9a-f]{{40}})/(?P<path>.+)$")


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, keyed by its path relative to it (with `/` separators)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's content (the Hub's ETag for files outside LFS)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class HubRepo:
    """One model repository at one commit."""

    repo_id: str
    files: dict[str, bytes]
    sha: str
    # Sizes the metadata API reports instead of the real ones (a Hub that disagrees with itself).
    claimed_sizes: dict[str, int] = field(default_factory=dict)

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)

    def folders(self) -> set[str]:
        return {
            "/".join(parts[:depth])
            for parts in (path.split("/") for path in self.files)
            for depth in range(1, len(parts))
        }

    def sibling(self, path: str, *, blobs: bool) -> dict[str, object]:
        entry: dict[str, object] = {"rfilename": path}
        if blobs:
            data = self.files[path]
            size = self.claimed_sizes.get(path, len(data))
            entry.update(size=size, blobId=git_blob_id(data))
            if self.is_lfs(path):
                sha256 = hashlib.sha256(data).hexdigest()
                entry["lfs"] = {"size": size, "sha256": sha256, "pointerSize": 134}
        return entry

    def tree_entry(self, path: str) -> dict[str, object]:
        data = self.files[path]
        size = self.claimed_sizes.get(path, len(data))
        entry: dict[str, object] = {"type": "file", "oid": git_blob_id(data), "size": size,
                                    "path": path}
        if self.is_lfs(path):
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": size,
                            "pointerSize": 134}
        return entry


@dataclass(frozen=True)
class Request:
    """One request the hub answered: method, path (unquoted, without the query) and status.
    `repo` and `file` are set for file requests (resolve or CDN); `sent` counts body bytes."""

    method: str
    path: str
    status: int
    repo: str | None = None
    file: str | None = None
    sent: int = 0


class FakeHub:
    """The Hub on 127.0.0.1 (an ephemeral port) plus its CDN on another port, in threads."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._hub = _Server(self, cdn=False)
        self._cdn = _Server(self, cdn=True)
        self._threads: list[threading.Thread] = []

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeHub:
        for server in (self._hub, self._cdn):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"fake-hub-{server.server_port}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint to give huggingface_hub (`HF_ENDPOINT` or `endpoint=`)."""
        return f"http://127.0.0.1:{self._hub.server_port}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_port}"

    # Content -----------------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: Mapping[str, bytes]) -> HubRepo:
        """Serve `files` as repository `repo_id`; its commit id follows from the content."""
        digest = hashlib.sha1()
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + git_blob_id(files[path]).encode())
        repo = HubRepo(repo_id, dict(files), digest.hexdigest())
        self.repos[repo_id] = repo
        return repo

    # What happened -----------------------------------------------------------------------

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def downloaded(self, repo_id: str | None = None) -> dict[str, int]:
        """File path → body bytes sent by GETs (resolve or CDN), for one repo or all."""
        sent: dict[str, int] = {}
        for request in self.requests:
            if request.method != "GET" or request.file is None or not request.sent:
                continue
            if repo_id is None or request.repo == repo_id:
                key = request.file if repo_id else f"{request.repo}/{request.file}"
                sent[key] = sent.get(key, 0) + request.sent
        return sent

    def unexpected(self) -> list[Request]:
        """Requests for routes this fake does not know: the client asked for something new."""
        return [request for request in self.requests if request.status == 400]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: FakeHub, *, cdn: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub
        self.cdn = cdn


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the real Hub: every response below carries a Content-Length.
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # the hub keeps its own log; stderr stays quiet

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    # Routing -----------------------------------------------------------------------------

    def _answer(self, *, body: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        hub = self.server.hub
        if self.server.cdn:
            if match := _CDN.match(path):
                return self._file(hub, match, body=body, cdn=True)
        elif match := _API_TREE.match(path):
            return self._tree(match, query)
        elif match := _API_INFO.match(path):
            return self._info(match, query)
        elif match := _RESOLVE.match(path):
            return self._file(hub, match, body=body, cdn=False)
        self._send(400, {"error": f"the fake hub does not serve {path}"}, body=body)

    def _repo(self, match: re.Match[str], *, body: bool) -> HubRepo | None:
        repo = self.server.hub.repos.get(match["repo"])
        if repo is None:
            self._send(404, {"error": "Repository not found"}, body=body,
                       headers={"X-Error-Code": "RepoNotFound"})
            return None
        revision = match["rev"] or "main"  # /api/models/<repo> means the default branch
        if revision not in ("main", repo.sha):
            self._send(404, {"error": f"Invalid rev id: {revision}"}, body=body,
                       headers={"X-Error-Code": "RevisionNotFound"})
            return None
        return repo

    def _info(self, match: re.Match[str], query: dict[str, str]) -> None:
        repo = self._repo(match, body=True)
        if repo is None:
            return
        blobs = query.get("blobs", "").lower() in ("1", "true")
        self._send(200, {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": False,
            "gated": False,
            "disabled": False,
            "tags": ["diffusers"],
            "library_name": "diffusers",
            "siblings": [repo.sibling(path, blobs=blobs) for path in sorted(repo.files)],
        }, body=True)

    def _tree(self, match: re.Match[str], query: dict[str, str]) -> None:
        repo = self._repo(match, body=True)
        if repo is None:
            return
        prefix = (match["path"] or "").strip("/")
        recursive = query.get("recursive", "").lower() in ("1", "true")

        def wanted(path: str) -> bool:
            if prefix and not path.startswith(prefix + "/"):
                return False
            rest = path[len(prefix) + 1 :] if prefix else path
            return recursive or "/" not in rest

        entries: list[dict[str, object]] = [
            {"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "path": folder}
            for folder in sorted(repo.folders())
            if wanted(folder)
        ]
        entries += [repo.tree_entry(path) for path in sorted(repo.files) if wanted(path)]
        self._send(200, entries, body=True)

    def _file(self, hub: FakeHub, match: re.Match[str], *, body: bool, cdn: bool) -> None:
        repo = self._repo(match, body=body)
        if repo is None:
            return
        path = match["path"]
        if path not in repo.files:
            self._send(404, {"error": "Entry not found"}, body=body,
                       headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.sha})
            return
        data = repo.files[path]
        headers = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if repo.is_lfs(path) and not cdn:
            # The real Hub redirects LFS files to a signed CDN URL; the metadata rides on the 302.
            headers.update({
                "Location": f"{hub.cdn_url}/cdn/{repo.repo_id}/{repo.sha}/{path}",
                "X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"',
                "X-Linked-Size": str(len(data)),
                "ETag": f'"{git_blob_id(data)}"',
            })
            self._send_bytes(302, b"", headers, body=body)
            hub.log(Request(self.command, match.string, 302, repo.repo_id, path))
            return
        etag = hashlib.sha256(data).hexdigest() if repo.is_lfs(path) else git_blob_id(data)
        headers["ETag"] = f'"{etag}"'
        status, start = 200, 0
        if match_range := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
            start = min(int(match_range[1]), len(data))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        self._send_bytes(status, chunk, headers, body=body)
        hub.log(Request(self.command, match.string, status, repo.repo_id, path,
                        len(chunk) if body else 0))

    # Sending -----------------------------------------------------------------------------

    def _send(self, status: int, payload: object, *, body: bool,
              headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        self._send_bytes(status, data, all_headers, body=body)
        self.server.hub.log(Request(self.command, unquote(urlsplit(self.path).path), status))

    def _send_bytes(self, status: int, data: bytes, headers: Mapping[str, str], *,
                    body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and data:
            self.wfile.write(data)

