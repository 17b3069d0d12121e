"""What every `framecraft` command shares: its consoles, JSON output and usage errors."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console

# A command that ran but did not get what it asked for (a job failed, no suggestion).
EXIT_FAILED = 1
err = Console(stderr=True)
out = Console()


class ApiUsage(Exception):
    """A command line that cannot be carried out as given (exit 2)."""


def emit(data: BaseModel | list[Any] | dict[str, Any]) -> None:
    """`--json`: the answer as JSON on stdout."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    print(json.dumps(data, indent=2))
