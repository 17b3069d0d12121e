"""Two things people noticed, in Chromium at a desktop's and a phone's width: a long model
name in the studio's model picker is read whole, chosen and in the list; and the account
pages say "Sign up", "Sign in" and "Sign out" as the rest of the site does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import make_user
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e
WIDTHS = ((1440, 900), (390, 844))
# The offered model with the longest name, chosen.
CHOOSE_LONGEST = """() => {
  const select = document.querySelector("select[name=preset]");
  const longest = [...select.options].reduce((a, b) => b.text.length > a.text.length ? b : a);
  select.form.dataset.before = "1";  // the form that the chosen model's replaces
  select.value = longest.value;
  select.dispatchEvent(new Event("change", {bubbles: true}));
  return {value: longest.value, text: longest.text};
}"""

# Where the chosen name sits, how many lines it takes, and whether any of it is clipped.
CHOSEN = """() => {
  const select = document.querySelector("select[name=preset]");
  const box = select.getBoundingClientRect();
  const line = parseFloat(getComputedStyle(select).lineHeight);
  return {lines: Math.round((box.height - 16) / line), width: box.width,
          clipped: select.scrollWidth > select.clientWidth + 1,
          appearance: getComputedStyle(select).appearance};
}"""
# Every option of the open list: inside the screen, none clipped.
LISTED = """() => [...document.querySelectorAll("select[name=preset] option")].map((o) => {
  const box = o.getBoundingClientRect();
  return {left: box.left, right: box.right, clipped: o.scrollWidth > o.clientWidth + 1};
})"""


def _shots() -> Path:
    return Path(os.environ.get("FRAMECRAFT_SCREENSHOTS") or "/tmp")


@pytest.mark.parametrize(("studio", "path"), [("studio", "/studio/"),
                                              ("edit", "/edit/?task=edit")])
def test_a_long_model_name_is_read_whole_when_chosen_and_in_the_list(models, page, live_site,
                                                                     studio, path):
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.goto(live_site + path)
    longest = page.evaluate(CHOOSE_LONGEST)
    assert len(longest["text"]) > 60, longest  # long enough to be cut off once
    # The form comes again for that model, with its name chosen.
    page.wait_for_selector("#generation-form:not([data-before])")
    page.wait_for_function("(id) => document.querySelector('select[name=preset] "
                           "option[selected]')?.value === id", arg=longest["value"])
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        select = page.locator("select[name=preset]")
        select.scroll_into_view_if_needed()
        chosen = page.evaluate(CHOSEN)
        assert chosen["appearance"] == "base-select", chosen
        assert not chosen["clipped"] and chosen["lines"] >= 2, chosen  # wrapped, not cut off
        assert longest["text"] in select.inner_text()
        page.screenshot(path=str(_shots() / f"preset-chosen-{studio}-{width}.png"))
        assert_accessible(page, f"the {studio} studio with a long model name at {width} px")

        select.click()
        page.wait_for_function("() => document.querySelector('select[name=preset]')"
                               ".matches(':open')")
        listed = page.evaluate(LISTED)
        # Clear of the screen's edges (a phone's bezel would eat a name's last letters).
        assert listed and all(not o["clipped"] and o["left"] >= 8 and o["right"] <= width - 8
                              for o in listed), listed
        page.screenshot(path=str(_shots() / f"preset-list-{studio}-{width}.png"))
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('select[name=preset]')"
                               ".matches(':open')")


def test_the_account_pages_write_sign_up_as_the_site_does(page, live_site):
    make_user("ada", PASSWORD)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        for path, heading in (("/accounts/signup/", "Sign up"), ("/accounts/login/", "Sign in")):
            page.goto(live_site + path)
            assert page.inner_text("main h1") == heading
            assert page.title().startswith(heading)
            assert page.inner_text("main button[type=submit]") == heading
            text = page.inner_text("body")
            assert not any(word in text for word in ("Sign Up", "Sign In", "Sign Out")), text
            page.screenshot(path=str(_shots() / f"account{path.rstrip('/').replace('/', '-')}"
                                                f"-{width}.png"), full_page=True)
    sign_in(page, live_site)
    page.goto(live_site + "/accounts/logout/")
    assert page.inner_text("main h1") == "Sign out"
    assert page.inner_text("main button[type=submit]") == "Sign out"
    assert "Sign Out" not in page.inner_text("body")
    page.screenshot(path=str(_shots() / "account-logout.png"))
