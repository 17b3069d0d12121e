"""Find rows whose stored file is gone and stored files no row names:
`python manage.py check_media` (exit status 1 when it finds either), `--delete-orphans` to
remove files no row has named for an hour."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser

from generation import backups


class Command(BaseCommand):
    help = "Check that database rows and stored media files agree."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--delete-orphans", action="store_true",
                            help="delete stored files no row names (older than an hour)")

    def handle(self, *args: Any, **options: Any) -> None:
        found = backups.check_media()
        for label, name in found.rows_without_files:
            self.stdout.write(f"missing file: {name} ({label})")
        for name in found.files_without_rows:
            self.stdout.write(f"orphan file: {name}")
        if found.recent_files_without_rows:
            self.stdout.write(f"{len(found.recent_files_without_rows)} newer files without "
                              "rows left alone (they may belong to work in progress)")
        if options["delete_orphans"]:
            for name in found.files_without_rows:
                default_storage.delete(name)
            self.stdout.write(f"Deleted {len(found.files_without_rows)} orphan files.")
        elif not found.rows_without_files and not found.files_without_rows:
            self.stdout.write("Rows and files agree.")
        if found.rows_without_files or (found.files_without_rows
                                        and not options["delete_orphans"]):
            raise SystemExit(1)
