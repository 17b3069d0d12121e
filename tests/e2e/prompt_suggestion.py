"""The part of Improve prompt every studio shares, as a person meets it: a suggestion arrives,
is looked at (desktop and phone, axe), dismissed (the prompt stays), asked for again, edited
and used (it replaces the prompt; the words written are kept in prompt_original)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.a11y import assert_accessible


def improve(page) -> str:
    page.click("[data-improve-prompt]")
    page.wait_for_selector("#prompt-suggestion [data-suggestion-text]", timeout=180_000)
    return page.input_value("#prompt-suggestion [data-suggestion-text]")


def look_at_suggestion(page, shots: Path, name: str) -> None:
    """Screenshots of the suggestion at 1440 and 390 px, each checked with axe."""
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.locator("#prompt-suggestion").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{name}-{width}.png"))
        assert_accessible(page, f"{name} at {width} px")
    page.set_viewport_size({"width": 1280, "height": 900})


def dismiss_then_use_edited(page, idea: str, edited: str) -> None:
    """Dismissed: the prompt stays as written, nothing is kept. Asked again, edited, then
    used: it replaces the prompt, and the words written are kept."""
    page.click("[data-dismiss-suggestion]")
    assert page.locator("#prompt-suggestion textarea").count() == 0
    assert page.input_value("textarea[name=prompt]") == idea
    assert page.input_value("input[name=prompt_original]") == ""

    improve(page)
    page.fill("#prompt-suggestion [data-suggestion-text]", edited)
    page.click("[data-accept-suggestion]")
    assert page.input_value("textarea[name=prompt]") == edited
    assert page.input_value("input[name=prompt_original]") == idea
