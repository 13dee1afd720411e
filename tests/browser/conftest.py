"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Every page opened here records each request and WebSocket it makes, every
JavaScript dialog and every console error, so tests can check that nothing
left this machine, that no script ran and that the CSP blocked nothing.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "results" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# Quiet, offline Chromium: no background traffic of its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

# Rasa's first reply after start-up can take a few seconds.
expect.set_options(timeout=20_000)


@dataclass
class Recorded:
    """What one browser context did."""

    urls: List[str] = field(default_factory=list)
    dialogs: List[str] = field(default_factory=list)
    console_errors: List[str] = field(default_factory=list)

    def non_local(self) -> List[str]:
        """Requests and WebSockets to anything but this machine (data:/blob: never leave it)."""
        return [
            url for url in self.urls
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS
        ]


@dataclass
class BrowserPage:
    page: Page
    recorded: Recorded


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make setup-test`")
    if not AXE.exists():
        pytest.fail("web/node_modules is missing: run ops/setup_widget.sh (make setup does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium: Browser) -> Iterator[Callable[..., BrowserPage]]:
    """Factory: a new page in a fresh context (own localStorage), recording what it does."""
    contexts: List[BrowserContext] = []

    def make(viewport: dict = DESKTOP, bypass_csp: bool = False, axe: bool = False) -> BrowserPage:
        mobile = viewport["width"] < 500
        context = chromium.new_context(
            viewport=viewport, is_mobile=mobile, has_touch=mobile, bypass_csp=bypass_csp,
            service_workers="block",
        )
        contexts.append(context)
        recorded = Recorded()
        context.on("request", lambda request: recorded.urls.append(request.url))
        if axe:
            # An init script, so axe is there without weakening the page's CSP.
            context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.on("websocket", lambda ws: recorded.urls.append(ws.url))
        page.on("dialog", lambda dialog: (recorded.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda msg: msg.type == "error" and recorded.console_errors.append(msg.text))
        page.on("pageerror", lambda error: recorded.console_errors.append(str(error)))
        return BrowserPage(page, recorded)

    yield make
    for context in contexts:
        context.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_server_page_url() -> Iterator[str]:
    """The demo page served by ops.web, pointed at a Rasa server that is not there."""
    port, dead_port = free_port(), free_port()
    # A closed port, so the browser really is refused (Chromium blocks port 1 before trying).
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.web", "--port", str(port), "--rasa-url", f"http://localhost:{dead_port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("ops.web did not start")
                time.sleep(0.2)
        yield f"http://localhost:{port}/"
    finally:
        process.terminate()
        process.wait(10)
