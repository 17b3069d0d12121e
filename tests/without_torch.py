"""Run a command as the web image would, where torch and the model libraries are not installed:

    python -m tests.without_torch celery -A webapp worker --queues webhooks,housekeeping

Importing any of them fails, and `importlib.util.find_spec` finds none, as there."""

from __future__ import annotations

import runpy
import sys

ABSENT = ("torch", "torchvision", "torchao", "diffusers", "transformers", "accelerate", "peft")

if __name__ == "__main__":
    for name in ABSENT:
        sys.modules[name] = None  # type: ignore[assignment]  # how Python marks "not there"
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
