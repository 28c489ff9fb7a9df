"""What the browser tests share: a real ``streamlit run app.py`` server on a free port, Debian's chromium driven by
Playwright (no ``playwright install``), and helpers that wait for Streamlit's reruns and take screenshots.

Playwright is imported where it is used, so a test module can ``pytest.importorskip`` it before anything runs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks import browser
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, VIEWPORT
from benchmarks.browser import free_port as free_port  # for the test modules and the Orthanc fixture

RESULT_MS = 60_000
"""Longest wait for a rerun that loads TensorFlow and the models (the first upload)."""
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")


def wait_until_answering(name: str, process: subprocess.Popen, log: Path, answers: Callable[[], bool],
                         timeout_s: float = STARTUP_S) -> None:
    """:func:`benchmarks.browser.wait_until_answering`, failing the test (with the server's log) instead."""
    try:
        browser.wait_until_answering(name, process, log, answers, timeout_s)
    except browser.ServerError as err:
        pytest.fail(str(err))


@contextmanager
def streamlit_server(env: Mapping[str, str], log: Path, *options: str, port: int | None = None) -> Iterator[str]:
    """The URL of :func:`benchmarks.browser.streamlit_process`; the test fails when the server's log shows a
    traceback, or when it does not start."""
    try:
        with browser.streamlit_process(env, log, *options, port=port) as server:
            yield server.url
    except browser.ServerError as err:
        pytest.fail(str(err))
    assert "Traceback" not in log.read_text(), log.read_text()


@contextmanager
def chromium_page(profile: Path) -> Iterator:
    """A page in a fresh chromium profile (its own cookies) that accepts downloads."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT,
            accept_downloads=True)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@contextmanager
def kept_screens(folder: Path, copy_to: Path) -> Iterator[Path]:
    """``folder`` for screenshots, copied to ``copy_to`` at the end (even when the test fails) for a human look."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        copy_to.mkdir(parents=True, exist_ok=True)
        for shot in folder.glob("*.png"):
            shutil.copy(shot, copy_to / shot.name)


def wait_idle(page) -> None:
    """Wait until the script run that drew the expected content has finished (Streamlit's own e2e signal)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning",
                                                            timeout=RESULT_MS)


def assert_no_exception(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()


def snap(page, path: Path) -> None:
    """Screenshot the whole page once the app is idle; Streamlit scrolls inside its main block, so the window is
    grown to the content's height first (a full-page screenshot would only show the first screen)."""
    wait_idle(page)
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    page.screenshot(path=path)
    page.set_viewport_size(VIEWPORT)


def caption(page, text: str):
    return page.get_by_test_id("stImageCaption").filter(has_text=text)


def download(page, label: str) -> bytes:
    wait_idle(page)
    with page.expect_download(timeout=RESULT_MS) as info:  # a report renders its figures first
        page.get_by_test_id("stDownloadButton").filter(has_text=label).get_by_role("button").click()
    return Path(info.value.path()).read_bytes()
