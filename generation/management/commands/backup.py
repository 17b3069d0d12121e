"""Back up the database and the media together: `python manage.py backup framecraft.tar`.

Safe while the site runs: the rows are one consistent moment, the files those rows name.
Restore with `manage.py restore`; see README, "Backups".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from generation import backups


class Command(BaseCommand):
    help = "Write the database and every stored file its rows name into one tar archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="where to write it (e.g. framecraft.tar)")
        parser.add_argument("--force", action="store_true", help="replace an existing file")

    def handle(self, *args: Any, **options: Any) -> None:
        archive: Path = options["archive"]
        if archive.exists() and not options["force"]:
            raise CommandError(f"{archive} exists; name another file or pass --force.")
        if not archive.resolve().parent.is_dir():
            raise CommandError(f"The folder {archive.resolve().parent} does not exist.")
        summary = backups.backup(archive)
        self.stdout.write(f"Backed up {summary.rows} rows and {summary.files} files "
                          f"({filesizeformat(summary.bytes)}) to {archive}.")
        if summary.missing:
            self.stderr.write(f"{len(summary.missing)} files named by rows were not found "
                              f"(e.g. {summary.missing[0]}); `manage.py check_media` lists them.")
