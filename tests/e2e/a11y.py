"""Accessibility checks in the browser: axe-core (vendored in static/vendor/axe-core) run on
the page as the person sees it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core" / "axe.min.js"
# What a person cannot get past; "moderate" and "minor" findings are advice.
BLOCKING = ("serious", "critical")

RUN_AXE = """async (preload) => {
    const results = await axe.run(document, {resultTypes: ["violations"], preload});
    return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


@cache
def _axe_source() -> str:
    return AXE.read_text()


def axe_violations(page, read_stylesheets: bool = True) -> list[dict]:
    """The page's serious and critical axe violations. axe is evaluated through the devtools
    protocol, not added as a <script>: the site's CSP rightly refuses inline scripts.

    With `read_stylesheets` off, axe does not preload the page's CSS (which only its
    css-orientation-lock rule reads): it re-creates a stylesheet's @import as a <style>
    element, which the CSP refuses, so on pages whose CSS imports more (Django's admin) the
    checker itself would be a console error."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    found = page.evaluate(RUN_AXE, read_stylesheets)
    return [v for v in found if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"])
    return "\n".join(lines)


def assert_accessible(page, name: str = "") -> None:
    """Fail with every serious or critical axe finding on the page as it is now."""
    violations = axe_violations(page)
    assert not violations, f"{name or page.url}:\n{describe(violations)}"
