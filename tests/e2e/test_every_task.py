"""Every task of the studio and the edit studio, tried as a new person tries them on a fresh
`make run`: no weights anywhere, SQLite and the embedded Redis, the demo models built in. The
person signs up in Chromium, makes a video of each kind through the pages alone and plays
each result on its video's page. A task that is a dead end (no model, a refusal, a job that
fails, a result that does not play) fails the test."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, play_video
from tests.processes import ROOT, free_port, wait_for
from tests.uploads.files import png

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
JOB_TIMEOUT_MS = 240_000
VIDEO_PAGE = re.compile(r"/videos/[0-9a-f-]{36}/")


@pytest.fixture(scope="module")
def fresh_studio_and_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`make run` on a fresh data folder, with an empty models folder and no Hub."""
    folder = tmp_path_factory.mktemp("fresh")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "FRAMECRAFT_DEMO_MODELS")}
    env.update(FRAMECRAFT_PORT=str(port), FRAMECRAFT_DATA_DIR=str(folder / "var"),
               FRAMECRAFT_MODELS_DIR=str(folder / "models"), HF_HOME=str(folder / "hf"),
               HF_HUB_OFFLINE="1", FRAMECRAFT_PROGRESS_INTERVAL="0.2")
    (folder / "models").mkdir()
    log_path = folder / "make-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)

    def listening() -> bool:
        assert process.poll() is None, log_path.read_text()
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 180, "make run to serve the site", interval=0.5)
        wait_for(lambda: log_path.read_text().count(" ready.") >= 3, 180,
                 "the workers to start", interval=0.5)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def fresh_studio(fresh_studio_and_log: tuple[str, Path]) -> str:
    return fresh_studio_and_log[0]


@pytest.fixture
def person(browser, fresh_studio_and_log: tuple[str, Path], page_problems):
    """A person who signed up through the site's own form, and their browser tab."""
    fresh_studio, log = fresh_studio_and_log
    page_problems.logs.append(log)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(fresh_studio + "/accounts/signup/")
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/studio/$"))
    yield page
    context.close()


def _card_ids(page) -> set[str]:
    return set(page.eval_on_selector_all(".job-card", "cards => cards.map(c => c.id)"))


def _settings(page, frames: str | None = None, steps: str = "2") -> None:
    """Short jobs: few steps (and frames where the form offers a choice)."""
    details = page.locator("#generation-form details.advanced")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    if frames is not None:
        page.select_option("#generation-form select[name=num_frames]", frames)
    page.fill("#generation-form input[name=steps]", steps)


def _submit_and_play(page, base_url: str, what: str) -> str:
    """Submit the form, follow the new job's card to success and play the video on its page;
    returns the video page's path."""
    before = _card_ids(page)
    page.click("#generation-form button[type=submit]")
    try:
        new = wait_for(lambda: _card_ids(page) - before, 60, f"the {what} job's card")
    except AssertionError:
        errors = page.locator("#generation-form .error, #generation-form .errors").all_inner_texts()
        page.screenshot(path="/tmp/refused.png", full_page=True)
        raise AssertionError(f"{what}: the form refused the job: {errors}") from None
    card = f"#{next(iter(new))}"
    page.wait_for_function(
        f"() => ['succeeded', 'failed', 'cancelled'].includes("
        f"document.querySelector('{card}')?.dataset.status)", timeout=JOB_TIMEOUT_MS)
    status = page.get_attribute(card, "data-status")
    assert status == "succeeded", f"{what}: {status}: {page.inner_text(card)}"
    links = page.eval_on_selector_all(f"{card} a[href]",
                                      "as => as.map(a => a.getAttribute('href'))")
    href = next((link for link in links if VIDEO_PAGE.fullmatch(link)), None)
    assert href, f"{what}: no link to the video's page in {links}"
    viewer = page.context.new_page()
    viewer.goto(base_url + href)
    played = play_video(viewer, ".detail-main video")
    viewer.close()
    assert played["error"] is None, f"{what}: the video does not play: {played}"
    assert played["duration"] > 0 and played["time"] > 0, f"{what}: {played}"
    return href


def _choose(page, field: str, path: Path, rerenders: bool = True) -> None:
    """Pick a file in the drop zone that fills the form's hidden input `field`, and wait for
    it to be uploaded (and the form re-rendered with it, where it does that)."""
    zone = page.locator(f"[data-dropzone]:has(input[data-dropzone-value][name={field}])").first
    page.eval_on_selector("#generation-form", "form => { form.dataset.stale = '1'; }")
    zone.locator("[data-dropzone-input]").set_input_files(str(path))
    try:
        page.wait_for_function(
            f"() => document.querySelector('input[name={field}]')?.value "
            "&& !document.querySelector('.htmx-request')"
            f"&& !({str(rerenders).lower()} "
            "&& document.querySelector('#generation-form').dataset.stale)",
            timeout=30_000)
    except Exception:
        page.screenshot(path="/tmp/choose-fail.png", full_page=True)
        Path("/tmp/choose-fail.html").write_text(page.content())
        raise


def _rerendered(page, action) -> None:
    """Do something that makes htmx re-render the form, and wait for the new form."""
    page.eval_on_selector("#generation-form", "form => { form.dataset.stale = '1'; }")
    action()
    page.wait_for_function(
        "() => { const form = document.querySelector('#generation-form');"
        " return form && !form.dataset.stale && !document.querySelector('.htmx-request'); }")


def _task(page, form_task: str) -> None:
    radio = f"#generation-form input[name=task][value={form_task}]"
    if not page.is_checked(radio):
        _rerendered(page, lambda: page.check(radio))
    assert "is not available here yet" not in page.inner_text("#generation-form"), form_task


def _model(page, preset: str) -> None:
    if page.input_value("#generation-form select[name=preset]") != preset:
        _rerendered(page, lambda: page.select_option(
            "#generation-form select[name=preset]", preset))


def test_every_task_makes_a_video_that_plays_on_a_fresh_install(person, fresh_studio, tmp_path):
    page, base = person, fresh_studio
    images = []
    for name, size, colour in (("start.png", (160, 96), (200, 60, 40)),
                               ("end.png", (160, 96), (40, 80, 200)),
                               ("rex-1.png", (120, 160), (90, 160, 60)),
                               ("rex-2.png", (160, 120), (90, 140, 80))):
        (tmp_path / name).write_bytes(png(*size, color=colour))
        images.append(tmp_path / name)
    start, end, *rex = images

    # From a prompt.
    page.fill("#generation-form textarea[name=prompt]", "a lighthouse at dusk")
    _settings(page, frames="9")
    source = _submit_and_play(page, base, "text to video")

    # From an image with an end frame, then with a keyframe.
    _task(page, "i2v")
    _model(page, "demo-flf2v")
    _choose(page, "start_image", start)
    _choose(page, "end_image", end)
    page.fill("#generation-form textarea[name=prompt]", "the sea turns blue")
    _settings(page, frames="9")
    _submit_and_play(page, base, "image to video with an end frame")
    _model(page, "demo-ltx")
    page.click("[data-keyframe-add]")
    page.locator("[data-keyframe] [data-dropzone-input]").wait_for(state="attached")
    _choose(page, "keyframe_image", end)
    _settings(page)
    _submit_and_play(page, base, "keyframes")

    # A subject from two photos (its background removed on the models worker), then used.
    page.goto(base + "/subjects/new/")
    page.fill("input[name=name]", "Rex")
    page.select_option("select[name=kind]", "object")
    for index, photo in enumerate(rex):
        page.locator("[data-dropzone-input]").nth(index).set_input_files(str(photo))
        page.wait_for_function(
            "(i) => document.querySelectorAll('input[name=photo]')[i]?.value", arg=index)
    page.click("#subject-form >> text=Make the subject")
    page.wait_for_url(re.compile(r"/subjects/[0-9a-f-]{36}/$"))
    page.goto(base + "/studio/")
    _task(page, "personalize")
    page.fill("#generation-form textarea[name=prompt]", "@Rex runs along a beach")
    _settings(page, frames="9")
    _submit_and_play(page, base, "with a subject")

    # Swap the subject into the first video: a mask image of the video's size.
    (tmp_path / "mask.png").write_bytes(png(128, 128, color=(255, 255, 255)))
    _task(page, "swap")
    _choose(page, "mask", tmp_path / "mask.png", rerenders=False)
    page.check("#generation-form input[name=subjects] >> nth=0")
    page.fill("#generation-form textarea[name=prompt]", "Rex stands in the lighthouse")
    _settings(page, frames="9")
    _submit_and_play(page, base, "swap in a subject")

    # Transfer the first video's motion with every control track.
    page.goto(base + source)
    page.click("text=Transfer its motion")
    page.wait_for_url(re.compile(r"task=control"))
    tracks = page.eval_on_selector_all("select[name=control] option", "os => os.map(o => o.value)")
    assert set(tracks) >= {"depth", "pose", "canny", "grey", "flow"}
    for track in tracks:
        page.select_option("#generation-form select[name=control]", track)
        page.fill("#generation-form textarea[name=prompt]", f"a robot, moving as before ({track})")
        _settings(page, frames="9")
        _submit_and_play(page, base, f"motion transfer ({track})")

    # The edit studio on the first video: restyle, change an area (drawn, then followed),
    # reframe, extend with both models that extend.
    page.goto(base + source)
    page.click(".action-bar >> text=Edit")
    page.wait_for_url(re.compile(r"/edit/\?video="))
    _task(page, "v2v")
    page.fill("#generation-form textarea[name=prompt]", "the lighthouse in watercolour")
    _settings(page, frames="9")
    _submit_and_play(page, base, "restyle")

    _task(page, "edit")
    canvas = page.locator("[data-mask-canvas]")
    canvas.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-mask-canvas]').width === 128")
    page.locator("[data-mask-scrub]").fill("0.5")
    canvas.scroll_into_view_if_needed()  # the form's column scrolls on its own
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('input[name=mask_file]')?.files.length === 1")
    page.fill("#generation-form textarea[name=prompt]", "a red door in the lighthouse")
    _settings(page, frames="9")
    _submit_and_play(page, base, "masked edit (drawn)")

    page.check("input[name=mask-tool][value=track]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.locator("[data-mask-hit]").click(position={"x": box["width"] * 0.5,
                                                    "y": box["height"] * 0.5})
    page.click("[data-track-start]")
    page.wait_for_function(
        "() => !document.querySelector('[data-track-preview]').hidden "
        "&& document.querySelector('input[name=mask]').value", timeout=120_000)
    page.fill("#generation-form textarea[name=prompt]", "a red ball")
    _submit_and_play(page, base, "masked edit (followed)")

    _task(page, "reframe")
    page.fill("#generation-form textarea[name=prompt]", "the coast around the lighthouse")
    _settings(page, frames="9")
    _submit_and_play(page, base, "reframe")

    _task(page, "extend")
    for preset in ("demo-vace", "demo-ltx"):
        _model(page, preset)
        page.fill("#generation-form textarea[name=prompt]", "the light turns on")
        _settings(page)
        _submit_and_play(page, base, f"extend ({preset})")
