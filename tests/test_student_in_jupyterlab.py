"""A student's session in a real browser: JupyterLab, run all, Validate.

Starts JupyterLab on 127.0.0.1 with a student's notebook for assignment 02,
set up as the student package sets it up (its JupyterLab settings, taken
from the wheel ``course student-package`` builds), drives Debian's Chromium
through Playwright, runs every cell, and presses nbgrader's *Validate*
button, as a student would before submitting. The instructor's ``course lab``
is started too, to show that it keeps nbgrader's instructor tools.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.course import REPOSITORY
from autograder.grading_session import fill_solutions

from tests.conftest import requires
from tests.browser import CHROMIUM, LAB_OPTIONS, TOKEN, chromium, free_port, jupyterlab

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
pytestmark = [pytest.mark.browser,
              requires("Chromium", Path(CHROMIUM).exists(), "./course installs it as root on Debian")]
RESULTS = REPOSITORY / "benchmarks" / "results"
#: A student's sigmoid with the sign of the exponent wrong: its visible check fails.
WRONG_SIGMOID = "def sigmoid(x):\n    return 1.0 / (1.0 + np.exp(x))\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The student's JupyterLab: the lab settings the student wheel installs, nothing else of the course."""
    from autograder.apps.student_package import PAGE_CONFIG, build

    home = tmp_path_factory.mktemp("student")
    wheel = build(tmp_path_factory.mktemp("dist"))
    config = tmp_path_factory.mktemp("jupyter-config")
    with zipfile.ZipFile(wheel) as archive:   # where pip puts the wheel's data file: <prefix>/etc/jupyter/…
        name = next(n for n in archive.namelist() if n.endswith(PAGE_CONFIG))
        target = config / Path(PAGE_CONFIG).relative_to("etc/jupyter")
        target.parent.mkdir(parents=True)
        target.write_bytes(archive.read(name))
    release = nbformat.read(str(REPOSITORY / "release/02-signals/signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source/02-signals/signals.ipynb"), as_version=4)
    nbformat.write(fill_solutions(release, source), str(home / "signals.ipynb"))
    nbformat.write(fill_solutions(release, source, replace={"sigmoid_impl": WRONG_SIGMOID}), str(home / "wrong.ipynb"))
    shutil.copy(REPOSITORY / "release/02-signals/signals.ipynb", home / "untouched.ipynb")
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config)}
    with jupyterlab([sys.executable, "-m", "jupyter", "lab", "--allow-root", f"--port={port}",
                     f"--ServerApp.root_dir={home}", *LAB_OPTIONS], home, port, env) as url:
        yield url


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    """``course lab`` as the instructor starts it (as root here), JupyterLab options passed through.

    It serves a copy of ``release/``: opening a notebook makes JupyterLab write checkpoints beside it.
    """
    folder = tmp_path_factory.mktemp("instructor") / "release"
    shutil.copytree(REPOSITORY / "release", folder)
    port = free_port()
    with jupyterlab([sys.executable, "-m", "autograder", "lab", str(folder), f"--port={port}",
                     *LAB_OPTIONS], REPOSITORY, port) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


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


def _nbgrader_menu_items(page) -> str:
    page.get_by_role("menuitem", name="Nbgrader").click()
    items = page.locator(".lm-Menu-content").last.inner_text()
    page.keyboard.press("Escape")
    return items


def _right_sidebar_titles(page) -> str:
    return " ".join(tab.get_attribute("title") or "" for tab in page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab").all())


def test_the_students_lab_has_no_instructor_tools(lab, browser):
    page = open_notebook(browser, lab, "signals.ipynb")
    items = _nbgrader_menu_items(page)
    assert "Assignment List" in items
    assert "Formgrader" not in items and "Course List" not in items
    assert "Create Assignment" not in _right_sidebar_titles(page)
    assert page.locator(".jp-NotebookPanel:visible").get_by_role("button", name="Validate").count() == 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.screenshot(path=str(RESULTS / "student-lab.png"))
    page.close()


def test_course_lab_keeps_the_instructor_tools(instructor_lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{instructor_lab}/lab/tree/02-signals/signals.ipynb?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    assert "Formgrader" in _nbgrader_menu_items(page)
    page.wait_for_selector(".jp-SideBar.jp-mod-right .lm-TabBar-tab", timeout=30_000)
    assert "Create Assignment" in _right_sidebar_titles(page)
    page.close()


def test_a_failing_check_shows_its_message_alone(lab, browser):
    page = open_notebook(browser, lab, "wrong.ipynb")
    run_all(page)
    cell = page.locator(".jp-Cell").filter(has_text="# graded: sigmoid (2 points)")
    error = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    error.get_by_text("✘ sigmoid").first.wait_for(state="attached", timeout=90_000)
    cell.scroll_into_view_if_needed()
    text = error.first.text_content().strip()
    assert text.startswith("✘ sigmoid"), text
    assert "expected" in text and "got" in text and "Hint:" in text
    assert "Traceback" not in text and "checks.py" not in text and "_fail" not in text
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "failing-check.png"))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus", timeout=60_000)
    validate(page)
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_text("✘ sigmoid").first.wait_for(timeout=120_000)
    shown = dialog.inner_text()
    assert "Traceback" not in shown and "checks.py" not in shown
    assert shown.index("✘ sigmoid") < shown.index("Hint:")
    page.close()


def test_validate_tells_a_student_what_is_unfinished(lab, browser):
    page = open_notebook(browser, lab, "untouched.ipynb")
    validate(page)
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    page.get_by_text("NotImplementedError").first.wait_for(timeout=60_000)
    assert "Success!" not in dialog.inner_text()
    page.close()
