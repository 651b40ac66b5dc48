"""Shared by the browser tests and bench/draw_latency.py: the app in a subprocess, and Chromium.

Without Chromium the callers skip with the reason; with CI set, a browser that does not
start is a failure (conftest.require).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from conftest import require

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Set in the page: the time of the last pointer-up anywhere (the canvas is in a shadow root;
# pointer events are composed, so they reach the window).
ARM_JS = """() => { window.__lastUp = null;
  window.addEventListener('pointerup', () => { window.__lastUp = performance.now(); }, {capture: true}); }"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(env: dict[str, str] | None = None, timeout: float = 120.0) -> Iterator[str]:
    """Run the app in a subprocess (with `env` added to ours); yield its URL once it answers;
    always terminate it."""
    port = free_port()
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below; the server's chatter is not needed
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "streamlit_app.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def chromium_on_app(env: dict[str, str] | None = None) -> Iterator[tuple[object, str]]:
    """The app in a subprocess (app_server) and a Chromium to visit it: (browser, url), both closed after.

    Skipped without Playwright or Chromium (failed in CI)."""
    import pytest

    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with app_server(env) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser, url
        finally:
            browser.close()


def launch_chromium(playwright):
    """Chromium via Playwright; skipped without one, failed in CI (see conftest.require)."""
    executable = find_chromium()
    require(executable is not None, "no Chromium found (apt-get install chromium)")
    try:
        return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as exc:  # Playwright raises its own Error types for a browser that won't start
        require(False, f"Chromium at {executable} did not start: {exc}")


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def open_popover(page, name: str, inside, *, tap: bool = False, tries: int = 3) -> None:
    """Open the popover button `name` and wait for `inside` (a locator in it) to show.

    The click waits for the app's script to finish: a run still going when the popover opens (a
    canvas reporting its first value, on a busy CI machine) can close it again (seen once in CI,
    never here), so a popover found closed is opened again, up to `tries` times.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    button = page.get_by_role("button", name=name)
    for attempt in range(tries):
        page.locator(IDLE).wait_for(timeout=90_000)
        button.tap() if tap else button.click()
        try:
            inside.wait_for(state="visible", timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def the_canvas(page, timeout: float = 30_000):
    """The drawing canvas's top layer, once it is the only one: after a switch of mode the old
    canvas stays in the page until the run that replaces it ends (a loaded CI machine found both)."""
    from playwright.sync_api import expect

    canvas = page.locator("canvas.upper-canvas")  # Playwright's locators pierce the shadow root
    expect(canvas).to_have_count(1, timeout=timeout)
    page.locator(IDLE).wait_for(timeout=timeout)
    expect(canvas).to_have_count(1, timeout=timeout)
    return canvas
