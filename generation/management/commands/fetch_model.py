"""Install, verify, list or remove a preset's weights on this machine (the worker's models
volume): `python manage.py fetch_model <id> [--remove | --verify | --from <folder or
archive>]`, or `--list`. `--from` installs without the Hub, from weights copied here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from worker.catalogue import INSTALLABLE, get_installable


class Command(BaseCommand):
    help = "Download (with progress), verify, list or remove model weights."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("preset", nargs="?", help="preset id; see --list")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--list", action="store_true", help="every preset and its state")
        action.add_argument("--verify", action="store_true", help="check installed weights")
        action.add_argument("--remove", action="store_true", help="delete installed weights")
        action.add_argument(
            "--from", dest="source", type=Path, metavar="PATH",
            help="install offline from a folder in the Hub's layout, or a .tar, .tar.gz or "
                 ".zip archive of one")

    def handle(self, *args: Any, **options: Any) -> None:
        from worker.catalogue import weights

        if options["list"]:
            self._list(weights)
            return
        if not options["preset"]:
            raise CommandError("Name a preset (see --list).")
        try:
            preset = get_installable(options["preset"])
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None
        if options["source"] is not None:
            try:
                weights.install_from(preset, options["source"], say=self.stdout.write)
            except weights.WeightsError as exc:
                raise CommandError(str(exc)) from None
            return
        if options["remove"]:
            freed = weights.remove(preset)
            self.stdout.write(f"Removed {preset.id}: {freed / 1e9:.2f} GB freed.")
            return
        if options["verify"]:
            problems = weights.verify(preset)
            if problems:
                raise CommandError(f"{preset.id}: " + "; ".join(problems))
            self.stdout.write(self.style.SUCCESS(f"{preset.id}: weights verify."))
            return
        if preset.builtin:
            self.stdout.write(f"{preset.id} is built in: nothing to download.")
            return
        if preset.is_installed() and not weights.verify(preset):
            self.stdout.write(f"{preset.id} is already installed at {preset.installed_path()}.")
            return
        try:
            weights.fetch(preset, say=self.stdout.write)
        except weights.WeightsError as exc:
            raise CommandError(str(exc)) from None

    def _list(self, weights: Any) -> None:
        for preset in INSTALLABLE.values():
            if preset.builtin:
                state = "built in" if preset.is_installed() else "built in, turned off"
            elif preset.is_installed():
                state = f"installed, {weights.installed_bytes(preset) / 1e9:.1f} GB"
            else:
                state = "not installed"
            tasks = ", ".join(preset.tasks)
            self.stdout.write(f"{preset.id:26} {state:22} {tasks:34} {preset.source or ''}")
