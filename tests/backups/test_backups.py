"""Backups as an operator makes them: `manage.py backup` of a live site, `manage.py restore`
into a fresh database and media store (PostgreSQL to SQLite, so across engines too), and
`manage.py check_media` for rows without files and files without rows."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from generation import backups
from generation.models import Upload, UploadKind, Video, Visibility
from tests.conftest import make_user
from tests.processes import ROOT, service_env
from tests.videos import FAKE_MP4, make_video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _library() -> Video:
    ada = make_user("ada", "correct-horse-battery-42")
    bob = make_user("bob", "correct-horse-battery-43")
    video = make_video(ada, "a lighthouse at dusk", visibility=Visibility.PUBLIC)
    make_video(bob, "rain on a tin roof")
    upload = Upload(owner=ada, kind=UploadKind.IMAGE, width=8, height=8, size_bytes=5)
    upload.file.save("start.png", ContentFile(b"\x89PNG!"), save=False)
    upload.save()
    return video


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, text=True,
                          capture_output=True, env=service_env(**env), timeout=300)


def test_a_backup_restores_into_a_fresh_database_and_media_store(tmp_path, media):
    video = _library()
    archive = tmp_path / "framecraft.tar"
    made = _manage("backup", str(archive), FRAMECRAFT_MEDIA_ROOT=str(media))
    assert made.returncode == 0, made.stderr
    assert "Backed up" in made.stdout and "5 files" in made.stdout

    # A new place: an empty SQLite database, migrated, and an empty media folder.
    fresh = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
             "FRAMECRAFT_MEDIA_ROOT": str(tmp_path / "fresh-media")}
    assert _manage("migrate", "--no-input", **fresh).returncode == 0
    restored = _manage("restore", str(archive), **fresh)
    assert restored.returncode == 0, restored.stderr
    assert "5 files" in restored.stdout

    rows = sqlite3.connect(tmp_path / "fresh.sqlite3")
    assert rows.execute("select count(*) from generation_video").fetchone() == (2,)
    name, owner = rows.execute(
        "select v.file, u.username from generation_video v join accounts_user u "
        "on u.id = v.owner_id where v.id = ?", (str(video.id).replace("-", ""),)).fetchone()
    assert owner == "ada"
    assert (tmp_path / "fresh-media" / name).read_bytes() == FAKE_MP4
    # Every file is back byte for byte, and rows and files agree there.
    for stored in media.rglob("*"):
        if stored.is_file():
            copy = tmp_path / "fresh-media" / stored.relative_to(media)
            assert copy.read_bytes() == stored.read_bytes()
    agree = _manage("check_media", **fresh)
    assert (agree.returncode, agree.stdout.strip()) == (0, "Rows and files agree."), agree.stdout


def test_restored_people_sign_in_and_see_their_videos(tmp_path, media):
    video = _library()
    archive = tmp_path / "framecraft.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    call_command("flush", interactive=False, verbosity=0)
    for stored in media.rglob("*"):
        if stored.is_file():
            stored.unlink()

    call_command("restore", str(archive), stdout=io.StringIO())
    client = Client()
    assert client.login(username="ada", password="correct-horse-battery-42")
    page = client.get(reverse("video_detail", args=[video.id]))
    assert page.status_code == 200 and "a lighthouse at dusk" in page.content.decode()
    served = client.get(reverse("video_file", args=[video.id]))
    assert b"".join(served.streaming_content) == FAKE_MP4
    assert Video.objects.get(pk=video.pk).visibility == Visibility.PUBLIC


def test_restore_refuses_a_database_in_use_and_writes_nothing(tmp_path, media):
    _library()
    archive = tmp_path / "framecraft.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    other = tmp_path / "other-media"
    with pytest.raises(backups.BackupError, match="already holds people or videos"):
        backups.restore(archive, storage=FileSystemStorage(location=other))
    assert not other.exists() or not any(other.rglob("*"))
    assert Video.objects.count() == 2


def _damaged_copy(archive: Path, to: Path) -> None:
    """The same backup with one video's bytes flipped."""
    with tarfile.open(archive) as source, tarfile.open(to, "w") as target:
        for member in source:
            data = source.extractfile(member).read() if member.isfile() else b""
            if member.name.startswith("media/videos/"):
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            target.addfile(member, io.BytesIO(data))


def test_a_damaged_backup_restores_nothing(tmp_path, media):
    _library()
    archive, damaged = tmp_path / "framecraft.tar", tmp_path / "damaged.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    _damaged_copy(archive, damaged)
    call_command("flush", interactive=False, verbosity=0)
    for stored in media.rglob("*"):
        if stored.is_file():
            stored.unlink()

    with pytest.raises(CommandError, match=r"damaged: videos/.* does not match its checksum"):
        call_command("restore", str(damaged))
    assert Video.objects.count() == 0
    assert not [p for p in media.rglob("*") if p.is_file()], "a failed restore left files"
    (tmp_path / "notes.txt").write_text("not a backup")
    with pytest.raises(CommandError, match="is not a backup archive"):
        call_command("restore", str(tmp_path / "notes.txt"))


def test_check_media_finds_rows_without_files_and_files_without_rows(media):
    video = _library()
    lost = Path(video.poster.path)
    lost.unlink()
    stray = media / "videos" / "left-over.mp4"
    stray.write_bytes(b"nobody's")
    old = time.time() - 2 * backups.ORPHAN_GRACE_S
    os.utime(stray, (old, old))
    fresh = media / "uploads" / "being-written.png"
    fresh.write_bytes(b"mid-transaction")

    out = io.StringIO()
    with pytest.raises(SystemExit) as status:
        call_command("check_media", stdout=out)
    assert status.value.code == 1
    report = out.getvalue()
    assert f"missing file: {video.poster.name} (generation.Video.poster)" in report
    assert "orphan file: videos/left-over.mp4" in report
    assert "being-written" not in report and "1 newer files without rows left alone" in report

    video.poster.save("p.jpg", ContentFile(b"poster again"))
    call_command("check_media", "--delete-orphans", stdout=io.StringIO())
    assert not stray.exists() and fresh.exists()
