"""Browser tests: Debian's Chromium driven by Playwright, against the real web server and worker."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    _normal_scheduling()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _normal_scheduling() -> None:
    """Start the browser on the normal scheduling policy. A test run was seen started under
    SCHED_FIFO: its browser inherits it, and a busy renderer then never yields the two cores to
    PostgreSQL and the web server it is waiting for, so the run stalls. Lowering one's own
    policy needs no privilege."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class PageProblems:
    """Every console error (a CSP report, a failed request, an htmx error event: htmx logs
    each one with console.error) and every uncaught script error of every page a test opens,
    in any browser context it makes; the test fails at teardown if there are any. A test that
    provokes an error on purpose names it with allow()."""

    def __init__(self, folder: Path) -> None:
        self.problems: list[str] = []
        self.allowed: list[str] = []
        self.contexts: list = []
        # What the pages asked of the server and heard from their sockets, newest last: printed
        # when a test fails, so a failure on a CI machine says what the page went through.
        self.traffic: list[str] = []
        self.folder = folder  # where a failed test's pages are saved, beside its logs
        self.logs: list[Path] = []  # service logs kept elsewhere (a module's own server)

    def allow(self, fragment: str) -> None:
        """Let console errors containing fragment pass (an error this test means to cause)."""
        self.allowed.append(fragment)

    def allow_refusals(self, url: str) -> None:
        """Let the browser's note of a 422 answer from url pass: the test sends refused input
        there on purpose (the page shows the server's message)."""
        self.allow(f"status of 422 (Unprocessable Entity) (from {url})")

    def watch(self, context) -> None:
        self.contexts.append(context)
        context.on("console", self._console)
        # Only what the events carry: a handler that calls back into Playwright (such as
        # request.response()) can hang the driver while a context closes.
        context.on("response", lambda response: self._note(
            f"{response.request.method} {response.url} -> {response.status}"))
        context.on("requestfailed", lambda request: self._note(
            f"{request.method} {request.url} FAILED {request.failure}"))
        context.on("page", lambda page: page.on("websocket", self._socket))
        context.on("weberror", lambda error: self.problems.append(
            f"uncaught error on {error.page.url if error.page else '?'}: {error.error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            location = message.location.get("url") or "?"
            page = message.page.url if message.page else "?"
            self.problems.append(f"{page}: {message.text} (from {location})")

    def _note(self, line: str) -> None:
        if "/static/" not in line:
            self.traffic.append(f"{time.monotonic():.2f} {line}")

    def _socket(self, socket) -> None:
        self._note(f"websocket {socket.url} opened")
        socket.on("framereceived", lambda frame: self._note(
            f"websocket <- {_ids_in(frame if isinstance(frame, str) else str(frame))}"))
        socket.on("close", lambda _: self._note(f"websocket {socket.url} closed"))

    def report(self) -> str:
        """The pages' traffic, each open page's HTML and screenshot (saved beside the test's
        logs), and the tail of every service log of the test."""
        lines = ["-- the pages' traffic (last 80) --", *self.traffic[-80:]]
        pages = [p for context in self.contexts for p in context.pages if not p.is_closed()]
        for n, page in enumerate(pages):
            with contextlib.suppress(Exception):  # a page that cannot be saved still reports
                page.screenshot(path=self.folder / f"page-{n}.png", full_page=True)
                (self.folder / f"page-{n}.html").write_text(page.content())
                lines.append(f"-- page {n}: {page.url}, saved in {self.folder} --")
        for log in [*sorted(self.folder.glob("*.log")), *self.logs]:
            lines += [f"-- {log.name} (last 40 lines) --",
                      *[line for line in log.read_text(errors="replace").splitlines()
                        if "/static/" not in line][-40:]]
        return "\n".join(lines)

    def close_pages(self) -> None:
        """Close every context the test opened (again is harmless): before the site stops, so
        that pages still open do not log the websocket's failed reconnects."""
        for context in self.contexts:
            context.close()

    def unexpected(self) -> list[str]:
        return [problem for problem in self.problems
                if not any(fragment in problem for fragment in self.allowed)]


def _ids_in(message: str) -> str:
    """A socket message by the elements it swaps, e.g. `job-list` or `job-…-progress`."""
    ids = re.findall(r'^<[a-z]+[^>]*\bid="([^"]+)"', message, flags=re.MULTILINE)
    return ", ".join(ids) or message[:80]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report says what its pages went through (while they are open)."""
    report = yield
    watcher = getattr(item, "funcargs", {}).get("page_problems")
    if report.failed and isinstance(watcher, PageProblems):
        report.sections.append(("what the pages went through", watcher.report()))
    return report


@pytest.fixture(autouse=True)
def page_problems(browser, monkeypatch, tmp_path):
    watcher = PageProblems(tmp_path)
    new_context = browser.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        watcher.watch(context)
        return context

    monkeypatch.setattr(browser, "new_context", watched_context)
    yield watcher
    problems = watcher.unexpected()
    assert not problems, "\n".join(problems)


@contextmanager
def serving(log_path: Path, page_problems: PageProblems) -> Iterator[str]:
    """The site served by uvicorn on the test database, at the URL this yields. The test's
    pages close before it stops: an open page would log its websocket's failed reconnects."""
    port = free_port()
    web = start_web(log_path, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        page_problems.close_pages()
        web.stop()


@pytest.fixture
def live_site(transactional_db, tmp_path, page_problems):
    """The site, for pages that run no job."""
    with serving(tmp_path / "web.log", page_problems) as url:
        yield url


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
