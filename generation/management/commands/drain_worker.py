"""Drain a worker: it finishes the job it runs and claims no more, until undrained.

`python manage.py drain_worker <name>` (the Celery node, `gpu0@host`, or a worker's full name
from the admin, `gpu0@host:1234`), `--undrain` to let it take jobs again, `--list` for the
workers and their state. Stored in the database, read by the worker at every claim.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import fleet, lifecycle
from generation.models import WorkerState, node_of


class Command(BaseCommand):
    help = "Drain a worker (finish the current job, take no more) or undrain it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="the worker's node (gpu0@host) or full name")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--undrain", action="store_true", help="let it take jobs again")
        action.add_argument("--list", action="store_true", help="workers and their state")

    def handle(self, *args: Any, **options: Any) -> None:
        drained = fleet.draining_nodes()
        if options["list"]:
            for state in WorkerState.objects.all():
                mark = "draining" if state.node in drained else "taking jobs"
                job = state.job_id or "idle"
                self.stdout.write(f"{state.name}  {state.gpu_count} GPU  {mark}  job: {job}")
            return
        if not options["name"]:
            raise CommandError("Name a worker (see --list).")
        node = node_of(options["name"])
        known = {state.node for state in WorkerState.objects.all()}
        if options["undrain"]:
            if not fleet.undrain(node):
                raise CommandError(f"{node} is not drained.")
            # It dropped the hints it heard while drained.
            lifecycle.top_up_hints(fleet.job_queues())
            self.stdout.write(f"{node} takes jobs again.")
            return
        if node not in known:
            listed = ", ".join(sorted(known)) or "none has reported"
            raise CommandError(f"No worker named {node!r} has reported; workers: {listed}.")
        fleet.drain(node)
        running = [state for state in WorkerState.objects.filter(job__isnull=False)
                   if state.node == node]
        after = "after its current job" if running else "now (it is idle)"
        self.stdout.write(f"{node} drained: it takes no more jobs, {after}.")
