"""A student's extra files never become a page anyone opens.

nbgrader copies every file beside the notebook to ``autograded/`` (which
formgrader serves in the TA's logged-in origin) and to ``feedback/`` (whose
``*.html`` files are released to the student). A student's ``evil.html``
must reach neither: it is kept for the TA in a zip under ``.grading/``.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
import zipfile

import nbformat
import pytest

from autograder.course import prepare_grading_root
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class
from tests.browser import LAB_OPTIONS, TOKEN, free_port, jupyterlab

pytestmark = [pytest.mark.sandbox]

A = "02-signals"
EVIL = "<script>fetch('/api/contents').then(r => r.text()).then(t => document.title = t)</script>"
LIMITS = {"Execute.timeout": 30, "SandboxedExecute.notebook_timeout": 120}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extras")
    scratch = ScratchCourse(tmp / "course", **LIMITS)
    folder = tmp / "class" / "eve" / A
    folder.mkdir(parents=True)
    nbformat.write(fill_solutions(scratch.release_notebook(A), scratch.source_notebook(A)), str(folder / "signals.ipynb"))
    (folder / "evil.html").write_text(EVIL)
    (folder / "notes").mkdir()
    (folder / "notes" / "page.svg").write_text("<svg onload='alert(1)'/>")
    report = grade_class(scratch.course, A, tmp / "class", workers=1)
    return scratch, report


def test_extra_files_stay_out_of_autograded_and_feedback_and_are_kept_for_the_ta(graded):
    scratch, report = graded
    course = scratch.course
    eve = next(r for r in report.results if r.student == "eve")
    assert eve.score == 12.0, eve   # the notebook itself is graded as usual
    assert any("extra files kept for the course staff" in note and "evil.html" in note for note in eve.notes), eve.notes
    for kind in ("submitted", "autograded", "feedback"):
        names = {p.relative_to(course.path(kind, "eve", A)).as_posix() for p in course.path(kind, "eve", A).rglob("*")}
        assert "evil.html" not in names and "notes/page.svg" not in names, (kind, names)
    assert (course.path("feedback", "eve", A) / "signals.html").exists()
    with zipfile.ZipFile(course.root / ".grading" / "extra-files" / A / "eve.zip") as kept:
        assert kept.read("evil.html").decode() == EVIL
        assert "notes/page.svg" in kept.namelist()


def test_formgrader_does_not_serve_an_extra_html_file(graded):
    scratch, _ = graded
    root = scratch.root
    prepare_grading_root(root)
    with scratch.course.gradebook() as gradebook:
        submission = gradebook.find_submission_notebook("signals", A, "eve").id
    port = free_port()
    with jupyterlab([sys.executable, "-m", "jupyter", "lab", "--allow-root", f"--port={port}",
                     f"--ServerApp.root_dir={root}", *LAB_OPTIONS], root, port) as url:
        # formgrader serves the files beside a submission's notebook at this address
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/formgrader/submissions/{submission}/evil.html?token={TOKEN}", timeout=30)
        assert missing.value.code == 404
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{url}/files/.grading/extra-files/{A}/eve.html?token={TOKEN}", timeout=30)
