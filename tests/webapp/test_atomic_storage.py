"""Stored files appear whole or not at all: a disk that fills up mid-write and a writer killed
mid-file leave nothing under the file's name (on a real, small tmpfs and a real process)."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from tests.processes import ROOT, wait_for
from webapp.storage import PARTIAL_PREFIX, AtomicFileSystemStorage


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 256 KiB filesystem of its own (tmpfs; the tests run as root, as CI does)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    assert made.returncode == 0, f"cannot mount a small tmpfs: {made.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_full_disk_leaves_no_half_written_file(small_disk):
    storage = AtomicFileSystemStorage(location=small_disk)
    with pytest.raises(OSError) as full:
        storage.save("videos/big.mp4", ContentFile(b"v" * 1024 * 1024))
    assert full.value.errno == errno.ENOSPC
    assert _files(small_disk) == [], "a half-written file was left"
    # The space is free again for what fits.
    assert storage.save("videos/small.mp4", ContentFile(b"v" * 64 * 1024)) == "videos/small.mp4"
    assert (small_disk / "videos" / "small.mp4").stat().st_size == 64 * 1024


WRITER = textwrap.dedent("""
    import sys, time
    from django.conf import settings
    settings.configure(MEDIA_ROOT=sys.argv[1])
    from django.core.files.base import File
    from webapp.storage import AtomicFileSystemStorage

    class Endless(File):
        def chunks(self, chunk_size=None):
            while True:
                yield b"v" * 65536
                time.sleep(0.05)

    AtomicFileSystemStorage().save("videos/video.mp4", Endless(None, "video.mp4"))
""")


def test_a_writer_killed_mid_file_leaves_only_a_partial_that_check_media_removes(
        tmp_path, settings, db):
    media = tmp_path / "media"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(media)], cwd=ROOT)
    partial = wait_for(lambda: [p for p in media.rglob(f"{PARTIAL_PREFIX}*")
                                if p.stat().st_size > 65536], 30, "the writer to be mid-file")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert not (media / "videos" / "video.mp4").exists()
    assert _files(media) == [str(partial[0].relative_to(media))]

    settings.MEDIA_ROOT = media
    an_hour_ago = time.time() - 3700
    os.utime(partial[0], (an_hour_ago, an_hour_ago))
    out = io.StringIO()
    call_command("check_media", "--delete-orphans", stdout=out)
    assert f"orphan file: {partial[0].relative_to(media)}" in out.getvalue()
    assert _files(media) == []
