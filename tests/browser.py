"""What the browser tests share: a JupyterLab server on 127.0.0.1 and Debian's Chromium.

Each test that looks at a page as a person would starts a real JupyterLab
(:func:`jupyterlab`) and drives a real Chromium through Playwright
(:func:`chromium`), with the flags this machine's closed network needs.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import missing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "course-browser-test"
#: JupyterLab on loopback, with a known token and nothing that reaches for the internet.
LAB_OPTIONS = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def needs_browser() -> None:
    """Skip the calling test when Playwright or Chromium is missing (fail it under CI=true)."""
    if importlib.util.find_spec("playwright") is None:
        missing("Playwright", "playwright is a dev dependency")
    if not Path(CHROMIUM).exists():
        missing("Chromium", "./course installs it as root on Debian")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyterlab(command: list[str], cwd: Path, port: int, env: dict | None = None) -> Iterator[str]:
    """Start a JupyterLab server with *command* (listening on *port*); yield its URL; stop it."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited with code {server.returncode} before it served")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 120 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright."""
    needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
