"""Run a command as it runs in the web image, which installs Framecraft without its `worker`
extra: only the distributions that its base requirements reach can be imported.

    python -m tests.web_image celery -A webapp worker --queues webhooks,housekeeping
    python -m tests.web_image manage.py check

Every other installed module (torch, diffusers, opencv, scipy …) fails to import, and
`importlib.util.find_spec` finds none of them, as in that image.
"""

from __future__ import annotations

import importlib.metadata
import re
import runpy
import sys

from packaging.requirements import Requirement


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def base_distributions(project: str = "framecraft") -> set[str]:
    """The installed distributions that `project`'s requirements reach, extras left out
    (except those a requirement names on the way, such as `celery[redis]`)."""
    reached: set[str] = set()
    wanted = [Requirement(project)]
    while wanted:
        requirement = wanted.pop()
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue
        reached.add(_key(requirement.name))
        extras = requirement.extras or {""}
        for line in distribution.requires or []:
            needed = Requirement(line)
            if needed.marker and not any(needed.marker.evaluate({"extra": extra})
                                         for extra in extras):
                continue
            if _key(needed.name) not in reached or needed.extras:
                wanted.append(needed)
    return reached


def absent_modules() -> set[str]:
    """Top-level modules installed here that no base distribution provides."""
    base = base_distributions()
    return {module for module, distributions
            in importlib.metadata.packages_distributions().items()
            if not any(_key(name) in base for name in distributions)}


def main(argv: list[str]) -> None:
    for module in absent_modules():
        sys.modules[module] = None  # type: ignore[assignment]  # how Python marks "not there"
    target, sys.argv = argv[0], argv
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
