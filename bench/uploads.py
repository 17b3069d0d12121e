"""Server time and server memory to accept a big JPEG and a big MP4 through the real view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/framecraft_bench \\
        .venv/bin/python bench/uploads.py [--jpeg-mb 20] [--mp4-mb 100] [--requests 3]

Starts the web tier as in production (uvicorn, ASGI) in a process of its own, signs a user
in, and streams each file as a browser's drop zone does (multipart POST /uploads/ with the
CSRF header), never holding it in memory on the client side. Prints each case's request time
(localhost: the server's work plus a local copy of the bytes) p50/p95 and the server's peak
resident memory during the case above its resident memory before it (VmHWM, reset before
each case through /proc/<pid>/clear_refs). Memory follows the limits (pixels of an image, one
decoded frame of a video), not the file's size: compare --jpeg-mb/--mp4-mb runs. Linux only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "var" / "bench-uploads"


def make_jpeg(megabytes: float) -> Path:
    """A noisy JPEG of about that size (noise does not compress: size ~ pixels)."""
    import numpy as np
    from PIL import Image

    path = CACHE / f"noise-{megabytes:g}mb.jpg"
    if path.exists():
        return path
    pixels = max(64 * 64, int(megabytes * 1024 * 1024 / 1.15))  # ~1.15 bytes/pixel at q=95
    width = int((pixels * 4 / 3) ** 0.5)
    height = max(64, pixels // width)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
        path, "JPEG", quality=95)
    return path


def make_mp4(megabytes: float) -> Path:
    """An H.264 MP4 of about that size: a few seconds of lossless 720p noise."""
    import av
    import numpy as np

    path = CACHE / f"noise-{megabytes:g}mb.mp4"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    target = megabytes * 1024 * 1024
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24,
                                      options={"preset": "ultrafast", "qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        written = 0
        frames = 0
        while written < target and frames < 24 * 50:
            noise = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noise, format="rgb24")):
                written += packet.size
                container.mux(packet)
            frames += 1
        for packet in stream.encode():
            container.mux(packet)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def post_file(port: int, path: Path, cookies: str, token: str) -> tuple[int, float]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    connection.request("POST", "/uploads/", body=body(), headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length), "Cookie": cookies, "X-CSRFToken": token,
        "HX-Request": "true", "Host": "127.0.0.1"})
    response = connection.getresponse()
    text = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"{path.name}: {response.status} {text[:300]!r}")
    return response.status, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jpeg-mb", type=float, default=20, help="size of the JPEG")
    parser.add_argument("--mp4-mb", type=float, default=100, help="size of the MP4")
    parser.add_argument("--requests", type=int, default=3, help="timed uploads per case")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    media = Path(tempfile.mkdtemp(prefix="fc-bench-media-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ["FRAMECRAFT_MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    # The case's file must fit the limits it is measured against.
    os.environ.setdefault("FRAMECRAFT_MAX_UPLOAD_MB", str(int(max(args.jpeg_mb,
                                                                  args.mp4_mb)) + 10))
    import django

    django.setup()
    from bench.studio_db import ready_studio

    with ready_studio():
        measure(args, media)


def measure(args: argparse.Namespace, media: Path) -> None:
    """Time each case's uploads through a real server, then remove what they stored."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string  # type: ignore[attr-defined]

    from accounts.models import User
    from generation.models import Upload

    user, _ = User.objects.get_or_create(username="bench-uploads",
                                         defaults={"email": "bench-uploads@example.com"})
    user.storage_quota_mb = 1024 * 1024
    user.save()
    Upload.objects.filter(owner=user).delete()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    token = _get_new_csrf_string()
    cookies = (f"{settings.SESSION_COOKIE_NAME}={session.session_key}; "
               f"{settings.CSRF_COOKIE_NAME}={token}")

    started = time.perf_counter()
    files = {"MP4": make_mp4(args.mp4_mb), "JPEG": make_jpeg(args.jpeg_mb)}
    print(f"test files ready in {time.perf_counter() - started:.1f} s ({CACHE})")

    port = free_port()
    env = {**os.environ, "FRAMECRAFT_UPLOAD_RATE": "10000/m"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm up: imports, connections, the first request's lazy work.
        warm = CACHE / "warm.png"
        if not warm.exists():
            from PIL import Image

            Image.new("RGB", (128, 128), (10, 20, 30)).save(warm)
        post_file(port, warm, cookies, token)
        print(f"server pid {server.pid}; {args.requests} uploads per case; "
              f"limits: {settings.FRAMECRAFT_MAX_IMAGE_PIXELS / 1e6:g} MP, "
              f"{os.environ['FRAMECRAFT_MAX_UPLOAD_MB']} MB")
        print(f"{'case':<28} {'p50 s':>7} {'p95 s':>7} {'RSS before':>11} {'peak':>9} "
              f"{'peak - before':>14}")
        for label, path in files.items():
            size_mb = path.stat().st_size / 1024 / 1024
            times = []
            rss, _ = peak_kib(server.pid)
            reset_peak(server.pid)
            for _ in range(args.requests):
                times.append(post_file(port, path, cookies, token)[1])
            _, hwm = peak_kib(server.pid)
            times.sort()
            p95 = times[max(0, round(len(times) * 0.95) - 1)]
            print(f"{label + f' {size_mb:.0f} MB':<28} {statistics.median(times):>7.2f} "
                  f"{p95:>7.2f} {rss / 1024:>9.0f} MB {hwm / 1024:>6.0f} MB "
                  f"{(hwm - rss) / 1024:>11.0f} MB")
    finally:
        server.terminate()
        server.wait(30)
        Upload.objects.filter(owner=user).delete()
        for path in sorted(media.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        media.rmdir()


if __name__ == "__main__":
    main()
