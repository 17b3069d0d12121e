"""Which package may import which: the API is built on accounts and generation, never the
reverse, and template tags are for templates (code formats through generation.formatting)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> Iterator[tuple[str, str]]:
    """(file, imported module) for every import in a package's source, lazy ones included."""
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield str(path.relative_to(ROOT)), node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield str(path.relative_to(ROOT)), alias.name


def test_accounts_imports_nothing_of_the_api():
    found = [(path, module) for path, module in _imports("accounts")
             if module == "api" or module.startswith("api.")]
    assert not found, found


def test_only_templates_use_the_template_tags():
    found = [(path, module) for package in ("accounts", "api", "generation", "webapp", "worker")
             for path, module in _imports(package)
             if module.startswith("generation.templatetags")]
    assert not found, found
