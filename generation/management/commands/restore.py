"""Restore a backup into an empty, migrated database: `python manage.py restore framecraft.tar`.

Files first, then every row in one transaction; on any failure nothing stays behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import backups


class Command(BaseCommand):
    help = "Restore a `manage.py backup` archive into an empty, migrated database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backups.restore(options["archive"])
        except backups.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored {summary.rows} rows and {summary.files} files.")
        if summary.missing:
            self.stderr.write(f"The backup lacked {len(summary.missing)} files that were "
                              "already missing when it was made; `manage.py check_media` "
                              "lists their rows.")
