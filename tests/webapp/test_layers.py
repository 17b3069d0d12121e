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


def _runtime_module(path: str, module: str) -> str | None:
    """The worker.runtime module an import in `path` names, if it names one."""
    if module.startswith("worker.runtime."):
        return module.removeprefix("worker.runtime.").split(".")[0]
    return None


def test_the_worker_runtime_imports_form_no_cycle():
    """Every import between worker.runtime's modules, lazy ones included, points one way: a
    function-level import can no longer hide a cycle (cache ↔ parallel ↔ runner once did)."""
    edges: dict[str, set[str]] = {}
    for path in sorted((ROOT / "worker/runtime").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    names = [node.module] if node.module else [a.name for a in node.names]
                else:
                    named = node.module and _runtime_module(str(path), node.module)
                    names = [named] if named else []
                for name in names:
                    edges.setdefault(path.stem, set()).add(name.split(".")[0])
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", " → ".join([*trail, module])
        state[module] = "open"
        for imported in sorted(edges.get(module, ())):
            visit(imported, [*trail, module])
        state[module] = "done"

    assert "cache" in edges and "parallel" in edges
    for module in sorted(edges):
        visit(module, [])
