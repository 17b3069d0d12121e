"""What the images hold: each Dockerfile's COPY lines, built into a wheel the way its
`pip install .` builds one, give every package of the project, and the site's files."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.processes import ROOT

DOCKERFILES = ["docker/web.Dockerfile", "docker/worker.Dockerfile"]


def _copies(dockerfile: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    copies = []
    for line in (ROOT / dockerfile).read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            copies.append((words[1:-1], words[-1]))
    return copies


def _ignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _project_packages() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {pattern.rstrip("*") for pattern
            in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}


def _build_context(dockerfile: str, folder: Path) -> Path:
    """The image's working directory after its COPY lines (from the repository root)."""
    ignored = _ignored()
    for sources, destination in _copies(dockerfile):
        for source in sources:
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), (
                f"{dockerfile} copies {source}, which .dockerignore leaves out")
            target = folder / (source if destination.endswith("/") else destination)
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target,
                                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy(ROOT / source, target)
    return folder


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_an_images_copied_files_install_every_package_of_the_project(dockerfile, tmp_path):
    app = _build_context(dockerfile, tmp_path / "app")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(tmp_path / "wheels"), str(app)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("framecraft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    installed = {name.split("/")[0] for name in names if "/" in name}
    assert _project_packages() <= installed, _project_packages() - installed
    assert (app / "manage.py").is_file() and (app / "templates" / "base.html").is_file()
    if dockerfile == "docker/web.Dockerfile":  # collectstatic gathers the vendored files
        assert (app / "static").is_dir()
