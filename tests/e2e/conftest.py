"""Browser tests: Debian's Chromium driven by Playwright, against the real web server and worker."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.processes import free_port, start_web, start_worker

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


# Package scope: the sync API's event loop must be gone before the async tests elsewhere run.
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM work the fixtures do
    # between browser steps is still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for the browser tests (make test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


class PageProblems:
    """Content-Security-Policy violations and uncaught script errors of every page a test
    opens (in any browser context it makes); the test fails at teardown if there are any."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, context) -> None:
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(
            f"uncaught error on {error.page.url if error.page else '?'}: {error.error}"))

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"{message.page.url if message.page else '?'}: {message.text}")


@pytest.fixture(autouse=True)
def page_problems(browser, monkeypatch):
    watcher = PageProblems()
    new_context = browser.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        watcher.watch(context)
        return context

    monkeypatch.setattr(browser, "new_context", watched_context)
    yield watcher
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.fixture
def live_site(transactional_db, tmp_path):
    """The site served by uvicorn on the test database, for pages that run no job."""
    port = free_port()
    web = start_web(tmp_path / "web.log", port)
    yield f"http://127.0.0.1:{port}"
    web.stop()


@pytest.fixture
def live_studio(live_site, tmp_path):
    """The site with a Celery worker running the jobs it submits."""
    worker = start_worker(tmp_path / "worker.log", FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    yield live_site
    worker.stop()


PASSWORD = "correct-horse-battery-42"
# Each sign-in form: its page, its name field, its button, and the page it lands on.
SIGN_IN_FORMS = {
    "site": ("/accounts/login/", "login", "main button[type=submit]", "/studio/"),
    "admin": ("/admin/login/", "username", "input[type=submit]", "/admin/"),
}


def sign_in(page, base_url: str, username: str = "ada", form: str = "site") -> None:
    """Sign in through the site's form (or the admin's) and wait for the page it lands on."""
    path, name_field, button, landing = SIGN_IN_FORMS[form]
    page.goto(base_url + path)
    page.fill(f"input[name={name_field}]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click(button)
    page.wait_for_url(base_url + landing)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


PLAY_SCRIPT = """async (selector) => {
    const video = document.querySelector(selector);
    video.muted = true;
    if (video.readyState < 1) {
        await new Promise(resolve => video.addEventListener('loadedmetadata', resolve,
                                                           {once: true}));
    }
    await video.play();
    await new Promise(resolve => setTimeout(resolve, 400));
    return {duration: video.duration, time: video.currentTime, error: video.error};
}"""


def play_video(page, selector: str = "video") -> dict:
    """Play the video muted for a moment; its duration, position and any media error."""
    return page.evaluate(PLAY_SCRIPT, selector)
