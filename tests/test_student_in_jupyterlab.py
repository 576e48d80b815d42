"""A student's session in a real browser: JupyterLab, run all, Validate.

Starts JupyterLab on 127.0.0.1 with a student's notebook for assignment 02,
drives Debian's Chromium through Playwright, runs every cell, and presses
nbgrader's *Validate* button, as a student would before submitting.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.course import REPOSITORY
from autograder.grading_session import fill_solutions

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Chromium is not installed (./course installs it as root on Debian)")
TOKEN = "course-browser-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("student")
    release = nbformat.read(str(REPOSITORY / "release/02-signals/signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source/02-signals/signals.ipynb"), as_version=4)
    nbformat.write(fill_solutions(release, source), str(home / "signals.ipynb"))
    shutil.copy(REPOSITORY / "release/02-signals/signals.ipynb", home / "untouched.ipynb")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={home}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def open_notebook(browser, lab: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    workspace = name.replace(".", "-")   # a workspace of its own: only this notebook open
    page.goto(f"{lab}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus", timeout=60_000)
    return page


def run_all(page) -> None:
    page.get_by_role("menuitem", name="Run").click()
    page.get_by_text("Run All Cells", exact=True).click()


def validate(page) -> None:
    """Press nbgrader's Validate button in the toolbar of the notebook on screen."""
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.get_by_role("button", name="Validate").click()


def test_a_student_runs_the_notebook_and_validates_it(lab, browser, tmp_path):
    page = open_notebook(browser, lab, "signals.ipynb")
    run_all(page)
    page.get_by_text("✔ O_output lies between 0.0 and 1.0").wait_for(timeout=90_000)
    page.get_by_text("✔ query on the three-layer example").first.wait_for(timeout=90_000)   # the last check
    page.locator(".jp-RenderedImage img").nth(2).wait_for(state="attached", timeout=30_000)
    assert page.locator(".jp-RenderedImage img").count() == 3, "the sigmoid, network and weights plots"
    page.screenshot(path=str(tmp_path / "notebook.png"))
    validate(page)
    page.get_by_text("Success! Your notebook passes all the tests.").wait_for(timeout=120_000)
    page.close()


def test_validate_tells_a_student_what_is_unfinished(lab, browser):
    page = open_notebook(browser, lab, "untouched.ipynb")
    validate(page)
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    page.get_by_text("NotImplementedError").first.wait_for(timeout=60_000)
    assert "Success!" not in dialog.inner_text()
    page.close()
