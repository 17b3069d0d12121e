"""Back up the database and the media together into one archive, restore it, and check that
rows and stored files agree.

The archive is a plain tar (videos are compressed already): `manifest.json` (when, which
migrations, every file's size and SHA-256), `database.json` (Django's own serialization, so a
backup of the embedded SQLite restores into PostgreSQL and back) and `media/<name>` for every
file a row points at, read through the storage API (local disk or object storage alike).

The rows are read in one transaction (on PostgreSQL at REPEATABLE READ), so the dump is one
consistent moment even while people work; the files are read after, by the names in that dump.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.core.files.base import File
from django.core.files.storage import Storage, default_storage
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "database.json"
MEDIA = "media/"
# Rebuilt by `migrate` (content types, permissions) or worthless in another place (sessions).
NOT_BACKED_UP = ["contenttypes", "auth.permission", "sessions"]
# A file newer than this may belong to a row whose transaction has not committed yet.
ORPHAN_GRACE_S = 3600
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why and what to do."""


@dataclass
class Summary:
    rows: int = 0
    files: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


def file_fields() -> list[tuple[type[models.Model], str]]:
    """Every stored-file column of every installed model, so new ones are backed up too."""
    return [(model, f.name) for model in apps.get_models()
            for f in model._meta.get_fields() if isinstance(f, models.FileField)]


def referenced_names() -> Iterator[str]:
    """The stored names that rows point at (each once per row and column)."""
    for model, name in file_fields():
        yield from (model._default_manager.exclude(**{name: ""})
                    .values_list(name, flat=True).iterator())


def _applied_migrations() -> list[list[str]]:
    return sorted([app, name] for app, name in
                  MigrationRecorder(connection).migration_qs.values_list("app", "name"))


def _backed_up_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label not in NOT_BACKED_UP
            and m._meta.label not in NOT_BACKED_UP and not m._meta.proxy]


def row_counts() -> dict[str, int]:
    """How many rows each backed-up model has: the manifest's, and a restore's check."""
    return {m._meta.label: m._default_manager.count() for m in _backed_up_models()}


def _dump_rows(to: Path) -> tuple[list[str], list[list[str]], dict[str, int]]:
    """The database as one consistent moment: its JSON, the files it names, its migrations
    and its row counts."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        call_command("dumpdata", exclude=NOT_BACKED_UP, natural_foreign=True,
                     output=str(to), verbosity=0)
        names = sorted(set(referenced_names()))
        return names, _applied_migrations(), row_counts()


def _copy_hashing(source: IO[bytes], target: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    archive.addfile(info, io.BytesIO(data))


def backup(destination: Path, storage: Storage = default_storage) -> Summary:
    """Write the archive next to `destination` and move it into place only once complete."""
    destination = destination.resolve()
    summary = Summary()
    with tempfile.TemporaryDirectory(dir=destination.parent) as work:
        rows_path = Path(work) / DATABASE
        names, migrations, counts = _dump_rows(rows_path)
        summary.rows = sum(counts.values())
        partial = Path(work) / "backup.tar"
        files: dict[str, dict[str, Any]] = {}
        with tarfile.open(partial, "w") as archive:
            archive.add(rows_path, DATABASE)
            for name in names:
                try:
                    stream = storage.open(name, "rb")
                except FileNotFoundError:
                    summary.missing.append(name)  # deleted since the dump, or already lost
                    continue
                with stream, tempfile.TemporaryFile(dir=work) as copy:
                    size, sha256 = _copy_hashing(stream, copy)
                    copy.seek(0)
                    info = tarfile.TarInfo(MEDIA + name)
                    info.size, info.mtime = size, int(time.time())
                    archive.addfile(info, copy)
                files[name] = {"size": size, "sha256": sha256}
                summary.files += 1
                summary.bytes += size
            manifest = {"format": FORMAT, "created_at": timezone.now().isoformat(),
                        "database": connection.vendor, "migrations": migrations,
                        "rows": counts, "files": files, "missing": summary.missing}
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=1).encode())
        os.replace(partial, destination)
    return summary


def _database_is_empty() -> bool:
    user_model = apps.get_model("accounts", "User")
    ours = [m for m in apps.get_models()
            if m._meta.app_label in {"accounts", "generation", "api"}]
    return not user_model.objects.exists() and not any(m._default_manager.exists() for m in ours)


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.extractfile(MANIFEST)
    except KeyError:
        raise BackupError("This is not a Framecraft backup: it has no manifest.json.") from None
    assert member is not None
    manifest: dict[str, Any] = json.load(member)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"This backup's format ({manifest.get('format')}) is not one this "
                          f"version reads ({FORMAT}).")
    return manifest


def _check_schema(manifest: dict[str, Any]) -> None:
    applied = {tuple(m) for m in _applied_migrations()}
    ahead = sorted(f"{app}.{name}" for app, name in manifest["migrations"]
                   if (app, name) not in applied)
    if ahead:
        raise BackupError("This backup was made by a newer Framecraft (migrations "
                          f"{', '.join(ahead[:5])}{' …' if len(ahead) > 5 else ''} are not "
                          "applied here): upgrade, run `manage.py migrate`, then restore.")


def _restore_file(archive: tarfile.TarFile, member: tarfile.TarInfo, expected: dict[str, Any],
                  storage: Storage) -> bool:
    """Store one file under its own name, checked against the manifest; False if it was
    there already with the same bytes."""
    name = member.name.removeprefix(MEDIA)
    source = archive.extractfile(member)
    assert source is not None
    with tempfile.TemporaryFile() as copy:
        size, sha256 = _copy_hashing(source, copy)
        if (size, sha256) != (expected["size"], expected["sha256"]):
            raise BackupError(f"The backup is damaged: {name} does not match its checksum.")
        if storage.exists(name):
            with storage.open(name, "rb") as present:
                if _copy_hashing(present, io.BytesIO())[1] == sha256:
                    return False
            raise BackupError(f"{name} already exists here with other contents; restore "
                              "into an empty media store.")
        copy.seek(0)
        saved = storage.save(name, File(copy))
    if saved != name:
        storage.delete(saved)
        raise BackupError(f"The storage renamed {name} to {saved}; restore into an empty "
                          "media store.")
    return True


def restore(source: Path, storage: Storage = default_storage) -> Summary:
    """Put a backup's rows and files back into an empty, migrated database. Files first, then
    the rows in one transaction; if anything fails, the files it wrote are removed again."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file.")
    try:
        archive = tarfile.open(source, "r")  # noqa: SIM115 - the with below closes it
    except tarfile.TarError as error:
        raise BackupError(f"{source} is not a backup archive ({error}).") from None
    summary = Summary()
    written: list[str] = []
    with archive, tempfile.TemporaryDirectory() as work:
        manifest = _read_manifest(archive)
        _check_schema(manifest)
        if not _database_is_empty():
            raise BackupError("The database already holds people or videos. Restore into an "
                              "empty database: create it, run `manage.py migrate`, then restore.")
        expected: dict[str, dict[str, Any]] = manifest["files"]
        try:
            for member in archive:
                if not member.name.startswith(MEDIA):
                    continue
                name = member.name.removeprefix(MEDIA)
                if name not in expected or not member.isfile():
                    raise BackupError(f"The backup is damaged: {member.name} is not in its "
                                      "manifest.")
                if _restore_file(archive, member, expected[name], storage):
                    written.append(name)
                summary.files += 1
                summary.bytes += member.size
            lost = sorted(name for name in expected if not storage.exists(name))
            if lost:
                raise BackupError(f"The backup is damaged: {len(lost)} files are missing "
                                  f"from it, e.g. {lost[0]}.")
            rows = archive.extractfile(DATABASE)
            if rows is None:
                raise BackupError("The backup is damaged: it has no database.json.")
            rows_path = Path(work) / DATABASE
            with rows_path.open("wb") as out:
                _copy_hashing(rows, out)
            with transaction.atomic():
                call_command("loaddata", str(rows_path), verbosity=0)
                counts = row_counts()
                if wrong := sorted(k for k, n in manifest["rows"].items() if counts.get(k) != n):
                    raise BackupError(f"The restored rows do not match the backup's count "
                                      f"({', '.join(wrong[:5])}); nothing was restored.")
            summary.rows = sum(counts.values())
        except BaseException:
            for name in written:
                storage.delete(name)
            raise
    summary.missing = list(manifest["missing"])
    return summary


@dataclass
class MediaCheck:
    rows_without_files: list[tuple[str, str]]  # (model.field, name)
    files_without_rows: list[str]
    recent_files_without_rows: list[str]  # too new to call orphans: maybe mid-transaction


def _walk(storage: Storage, folder: str = "") -> Iterator[str]:
    folders, files = storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}" if folder else name
    for sub in folders:
        yield from _walk(storage, f"{folder}/{sub}" if folder else sub)


def check_media(storage: Storage = default_storage, grace_s: float = ORPHAN_GRACE_S
                ) -> MediaCheck:
    """Rows whose file is gone, and stored files no row points at."""
    referenced: set[str] = set()
    missing: list[tuple[str, str]] = []
    for model, column in file_fields():
        label = f"{model._meta.label}.{column}"
        for name in (model._default_manager.exclude(**{column: ""})
                     .values_list(column, flat=True).iterator()):
            referenced.add(name)
            if not storage.exists(name):
                missing.append((label, name))
    now = timezone.now()
    orphans: list[str] = []
    recent: list[str] = []
    for name in _walk(storage) if _storage_root_exists(storage) else ():
        if name in referenced:
            continue
        young = (now - storage.get_modified_time(name)).total_seconds() < grace_s
        (recent if young else orphans).append(name)
    return MediaCheck(sorted(missing), sorted(orphans), sorted(recent))


def _storage_root_exists(storage: Storage) -> bool:
    location = getattr(storage, "location", None)
    return location is None or Path(location).is_dir()
