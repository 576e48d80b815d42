"""Hidden test lines never reach feedback, however the student's kernel dresses them up.

A hook of the student's (IPython's ``pre_run_cell``) sees each hidden test as
it runs and shows its lines in the four forms that once got through: a
``<span>`` per character in ``text/html``, base32, upper case, and a line
printed in two halves (in two outputs). The real pipeline grades the
notebook; Chromium renders the feedback page and the test searches the text
a reader sees.
"""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class
from autograder.preprocessors.feedback import fold, hidden_lines
from tests.conftest import needs_sandbox
from tests.browser import chromium

pytestmark = [pytest.mark.sandbox, pytest.mark.browser, needs_sandbox]

A = "02-signals"
MIN_CHARS = 8

#: A cell holding nbgrader's markers is refused by preflight, so the hook spells them in two parts.
HOOK = r'''
import base64, sys
from IPython import get_ipython
from IPython.display import HTML, display

BEGIN, END = "### BEGIN " + "HIDDEN TESTS", "### END " + "HIDDEN TESTS"   # not the markers themselves

def _lines(info):
    source = info.raw_cell
    if BEGIN not in source:
        return []
    inside = source.split(BEGIN, 1)[1].split(END, 1)[0]
    return [line.strip() for line in inside.splitlines() if len(line.strip()) >= 8]

def _leak(info):
    for line in _lines(info):
        display(HTML("".join(f"<span>{c}</span>" for c in line)))
        print(base64.b32encode(line.encode()).decode())
        print(line.upper())
        half = len(line) // 2
        print(line[:half], end="")
        sys.stdout.flush()
        display(HTML("<b>between</b>"))
        print(line[half:])

get_ipython().events.register("pre_run_cell", _leak)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("redaction")
    scratch = ScratchCourse(tmp / "course", **{"Execute.timeout": 30, "SandboxedExecute.notebook_timeout": 120})
    notebook = fill_solutions(scratch.release_notebook(A), scratch.source_notebook(A))
    notebook.cells.insert(1, new_code_cell(HOOK))
    folder = tmp / "class" / "hugo" / A
    folder.mkdir(parents=True)
    nbformat.write(notebook, str(folder / "signals.ipynb"))
    report = grade_class(scratch.course, A, tmp / "class", workers=1)
    return scratch, report


def test_the_four_bypasses_leave_no_hidden_line_in_the_rendered_feedback(graded):
    scratch, report = graded
    course = scratch.course
    hidden = set()
    for cell in scratch.source_notebook(A).cells:
        hidden |= hidden_lines(cell.source, MIN_CHARS)
    assert len(hidden) >= 3
    # the hook did show them to the kernel's outputs (else this test proves nothing)
    autograded = course.path("autograded", "hugo", A, "signals.ipynb").read_text()
    shown = [line for line in hidden if line.upper() in autograded.upper()
             or base64.b32encode(line.encode()).decode()[:24] in autograded]
    assert len(shown) >= 3, "the hook printed no hidden line"

    page = course.path("feedback", "hugo", A, "signals.html").read_text()
    with chromium() as browser:
        tab = browser.new_page()
        tab.set_content(page, wait_until="load")
        text = tab.inner_text("body")
    assert "Score:" in text   # the page itself is whole
    read = fold(text)
    leaked = [line for line in hidden if fold(line) in read]
    assert leaked == [], leaked
    encoded = [line for line in hidden if base64.b32encode(line.encode()).decode()[:24] in text]
    assert encoded == [], encoded
