"""The studio's form as a person uses it with a long job list: Generate stays in reach at any
scroll position, by mouse and by keyboard, on a desktop and on a phone; and the settings they
chose stay chosen for the next job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# Where Generate is, and whether a click at its centre would reach it (nothing on top of it).
GENERATE_REACHABLE = """() => {
    const button = document.querySelector('#generation-form button[type=submit]');
    const box = button.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {top: box.top, bottom: box.bottom, height: innerHeight,
            onTop: hit === button || button.contains(hit)};
}"""


def _assert_reachable(page, where: str) -> None:
    spot = page.evaluate(GENERATE_REACHABLE)
    assert spot["top"] >= 0 and spot["bottom"] <= spot["height"], f"{where}: {spot}"
    assert spot["onTop"], f"{where}: something covers Generate ({spot})"


def _many_jobs(owner) -> None:
    for number in range(14):
        make_video(owner, prompt=f"finished clip number {number}",
                   age=timedelta(minutes=number + 5))
    for number in range(6):
        Job.objects.create(owner=owner, preset="tiny", status=JobStatus.FAILED,
                           error_message="The worker hit an unexpected error.",
                           created_at=timezone.now() - timedelta(hours=1, minutes=number),
                           params={"prompt": f"failed clip {number}", "seed": 3, "width": 128,
                                   "height": 128, "num_frames": 5, "steps": 2, "guidance": 5.0,
                                   "negative_prompt": ""})


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_generate_is_in_reach_at_any_scroll_position(browser, live_site, viewport, scheme,
                                                     tmp_path):
    owner = make_user("ada", PASSWORD)
    _many_jobs(owner)
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    sign_in(page, live_site)
    page.click("summary")  # the settings open: the form is at its tallest
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollHeight") > viewport["height"] * 1.5
    _assert_reachable(page, "at the top")
    page.screenshot(path=str(tmp_path / f"studio-top-{viewport['width']}-{scheme}.png"))
    for fraction in (0.5, 1.0):
        page.evaluate("(f) => window.scrollTo(0, f * document.documentElement.scrollHeight)",
                      fraction)
        page.wait_for_timeout(100)
        _assert_reachable(page, f"scrolled to {fraction:.0%}")
    page.screenshot(path=str(tmp_path / f"studio-bottom-{viewport['width']}-{scheme}.png"))

    # By keyboard: Tab from the last field before it (focused without scrolling to it).
    page.evaluate("""() => {
        const form = document.querySelector('#generation-form');
        const fields = [...form.querySelectorAll('textarea, input:not([type=hidden]), select')];
        fields[fields.length - 1].focus({preventScroll: true});
    }""")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Generate"
    page.wait_for_timeout(100)
    _assert_reachable(page, "focused by Tab")

    page.fill("textarea[name=prompt]", "a heron in the reeds")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function("() => [...document.querySelectorAll('.job-card')].some("
                           "c => c.textContent.includes('a heron in the reeds'))")
    assert Job.objects.filter(owner=owner, params__prompt="a heron in the reeds").exists()
    context.close()


def test_the_settings_chosen_stay_for_the_next_job(live_site, page):
    owner = make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.fill("textarea[name=prompt]", "a lantern on a rainy street")
    page.check("input[name=speed][value=balanced]")
    page.click("summary")
    page.select_option("select[name=size]", "96x160")
    page.select_option("select[name=num_frames]", "9")
    page.fill("input[name=steps]", "5")
    page.fill("input[name=guidance]", "3.5")
    page.fill("textarea[name=negative_prompt]", "fog")
    for _ in range(2):
        count = Job.objects.filter(owner=owner).count()
        page.click("#generation-form button[type=submit]")
        page.wait_for_function(
            "(n) => document.querySelectorAll('.job-card').length === n", arg=count + 1)
        page.wait_for_selector("#generation-form button[type=submit]:not([disabled])")

    first, second = Job.objects.filter(owner=owner).order_by("created_at")
    chosen = {"prompt": "a lantern on a rainy street", "speed": "balanced", "width": 96,
              "height": 160, "num_frames": 9, "steps": 5, "guidance": 3.5,
              "negative_prompt": "fog"}
    for job in (first, second):
        assert {key: job.params[key] for key in chosen} == chosen
    # No seed was typed: each job drew its own.
    assert page.input_value("input[name=seed]") == ""


def test_a_typed_seed_is_kept_too(live_site, page):
    owner = make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.fill("textarea[name=prompt]", "a lantern on a rainy street")
    page.click("summary")
    page.fill("input[name=seed]", "777")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('.job-card').length === 1")
    assert page.input_value("input[name=seed]") == "777"
    assert Job.objects.get(owner=owner).params["seed"] == 777


# The edit studio's Edit (or Extend) button: the last submit button of its form.
EDIT_REACHABLE = GENERATE_REACHABLE.replace(
    "document.querySelector('#generation-form button[type=submit]')",
    "[...document.querySelectorAll('#generation-form button[type=submit]')].pop()")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_edit_button_is_in_reach_at_any_scroll_position(browser, live_site, viewport):
    owner = make_user("ada", PASSWORD)
    _many_jobs(owner)
    source = make_video(owner, prompt="the clip to edit")
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, live_site)
    page.goto(f"{live_site}/edit/?video={source.id}")
    page.wait_for_load_state("load")
    page.click("#generation-form summary")  # the settings open: the form is at its tallest
    for fraction in (0.0, 0.5, 1.0):
        page.evaluate("(f) => window.scrollTo(0, f * document.documentElement.scrollHeight)",
                      fraction)
        page.wait_for_timeout(100)
        spot = page.evaluate(EDIT_REACHABLE)
        where = f"scrolled to {fraction:.0%}"
        assert spot["top"] >= 0 and spot["bottom"] <= spot["height"], f"{where}: {spot}"
        assert spot["onTop"], f"{where}: something covers Edit ({spot})"
    context.close()


def test_a_task_picked_before_the_page_s_scripts_ran_still_gets_its_form(live_site, page):
    # On a slow connection (or a busy machine) a person can pick a task before htmx listens;
    # the radio then showed "From an image" over the prompt-only form. Held here: htmx itself.
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    held: list = []
    page.route("**/htmx-2.0.11.min.js", lambda route: held.append(route))
    page.goto(f"{live_site}/studio/", wait_until="commit")
    page.check("#generation-form input[name=task][value=i2v]")
    while not held:
        page.wait_for_timeout(50)
    assert page.locator(".task-option.selected input[value=t2v]").count() == 1
    held[0].continue_()
    page.locator(".task-option.selected input[value=i2v]").wait_for(state="attached")
    assert page.locator("#generation-form select[name=preset]").input_value() == "demo-i2v"
