"""The product served by uvicorn (ASGI: pages, API and WebSockets) on the test database, and
Debian's Chromium driven by Playwright. Screenshots go to var/test-artifacts/screenshots."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.db import connection

from pbx.engine.process import free_port, postgres_url

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def site(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory) as url:
        yield url


@contextmanager
def serve(
    tmp_path_factory: pytest.TempPathFactory, environ: Mapping[str, str] | None = None
) -> Iterator[str]:
    """uvicorn serving the product on the test database (`environ`: settings added)."""
    port = free_port()
    env = (
        dict(os.environ)
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": postgres_url(connection.settings_dict),
            "PBX_LOG_LEVEL": "WARNING",
        }
        | dict(environ or {})
    )
    log = tmp_path_factory.mktemp("site") / "uvicorn.log"
    process = subprocess.Popen(  # noqa: S603 - the project's own server
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "pbx.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(log.read_text()[-2000:])
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Browser:
    page: object
    console_errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    yield from launch_chromium(CHROMIUM_ARGS)


def launch_chromium(args: list[str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run deploy/scripts/install-browser.sh")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # next to it are ordinary blocking calls, so Django's async-context guard is lifted here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser(chromium) -> Iterator[Browser]:
    context = chromium.new_context(viewport={"width": 1100, "height": 1300})  # type: ignore[attr-defined]
    page = context.new_page()
    wrapped = Browser(page)

    def console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            wrapped.console_errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda e: wrapped.console_errors.append(str(e)))
    page.set_default_timeout(10000)
    yield wrapped
    context.close()
    assert wrapped.console_errors == [], wrapped.console_errors


def log_in(browser: Browser, site: str, email: str, password: str) -> None:
    page = browser.page
    page.goto(f"{site}/portal/login/")  # type: ignore[attr-defined]
    page.get_by_label("E-mail").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{site}/portal/devices/")  # type: ignore[attr-defined]
