"""An instructor adds a graded cell to an assignment that a TA has already graded.

The instructor's course (``source/``, ``release/``) and the TA's course folder
(gradebook, submissions) are separate folders, as ``course`` sets them up by
default. The test walks the README's way forward with the real CLI:

1. the TA grades 02 for two students;
2. the instructor adds a written answer (a graded cell) to ``source/02-signals``;
3. ``course check`` sees that ``release/`` is stale and names the new cell;
   ``course generate`` in the instructor's course works;
4. ``course grade`` in the TA's folder stops with one line (nbgrader cannot add
   cells to an assignment with submissions) and writes nothing; so does
   ``course generate`` there;
5. ``course grade --update-assignment`` regrades the class with the new cell
   and tells the TA who submitted the earlier release.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course, REPOSITORY
from autograder.grading_session import fill_solutions
from tests.test_cli import snapshot

pytestmark = [pytest.mark.slow]

ASSIGNMENT = "02-signals"
NEW_CELL = "reflection"


def course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=900, cwd=REPOSITORY)


def add_written_answer(notebook_path: Path) -> None:
    """What the instructor does in JupyterLab: a manually graded answer worth 1 point."""
    notebook = nbformat.read(str(notebook_path), as_version=4)
    cell = nbformat.v4.new_markdown_cell(
        "A sigmoid output is never exactly 0 or 1. Why does that matter for learning?\n\n"
        "=== BEGIN MARK SCHEME ===\nThe slope is never zero, so the error still moves the weights.\n"
        "=== END MARK SCHEME ===")
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "task": False,
                                 "points": 1, "grade_id": NEW_CELL, "schema_version": 3}
    notebook.cells.insert(len(notebook.cells) - 1, cell)
    nbformat.write(notebook, str(notebook_path))


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """The instructor's course (a copy of 02's source and release) and the TA's folder, graded once."""
    base = tmp_path_factory.mktemp("change")
    instructor, ta = base / "instructor", base / "ta"
    shutil.copytree(REPOSITORY / "source" / ASSIGNMENT, instructor / "source" / ASSIGNMENT)
    shutil.copytree(REPOSITORY / "release" / ASSIGNMENT, instructor / "release" / ASSIGNMENT)
    ta.mkdir()
    (ta / "source").symlink_to(instructor / "source", target_is_directory=True)
    submissions = base / "submissions"
    release = nbformat.read(str(instructor / "release" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    source = nbformat.read(str(instructor / "source" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    for student, notebook in (("ada", fill_solutions(release, source)), ("ben", release)):
        (submissions / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(notebook, str(submissions / student / ASSIGNMENT / "signals.ipynb"))
    first = course("grade", ASSIGNMENT, str(submissions), "--root", str(ta), "--workers", "2")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    add_written_answer(instructor / "source" / ASSIGNMENT / "signals.ipynb")
    return instructor, ta, base


def _one_line(run: subprocess.CompletedProcess) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr
    return lines[0]


def test_check_names_the_cells_of_a_stale_release(courses):
    instructor, _, _ = courses
    run = course("check", ASSIGNMENT, "--root", str(instructor))
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"FAIL {ASSIGNMENT}: release/{ASSIGNMENT} is stale, run `course generate {ASSIGNMENT}`" in run.stdout
    assert f"cells in source/ but not in the release: {NEW_CELL}" in run.stdout


def test_grading_the_changed_assignment_stops_in_one_line(courses):
    _, ta, _ = courses
    before = snapshot(ta)
    line = _one_line(course("grade", ASSIGNMENT, "--root", str(ta)))
    assert "nbgrader cannot add or remove cells" in line and "--update-assignment" in line and "-v2" in line
    assert snapshot(ta) == before
    line = _one_line(course("generate", ASSIGNMENT, "--root", str(ta)))   # where the submissions are
    assert "nbgrader cannot add or remove cells" in line
    assert Course(ta).max_score(ASSIGNMENT) == 12


def test_the_documented_way_forward_works(courses):
    instructor, ta, base = courses
    generate = course("generate", ASSIGNMENT, "--root", str(instructor), "--no-solutions")
    assert generate.returncode == 0, generate.stderr
    release = instructor / "release" / ASSIGNMENT / "signals.ipynb"
    assert NEW_CELL in release.read_text()

    # A student who got the new release submits it too.
    late = base / "late"
    new_release = nbformat.read(str(release), as_version=4)
    source = nbformat.read(str(instructor / "source" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    (late / "cleo" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(fill_solutions(new_release, source), str(late / "cleo" / ASSIGNMENT / "signals.ipynb"))

    run = course("grade", ASSIGNMENT, str(late), "--root", str(ta), "--update-assignment", "--workers", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"WARNING: source/{ASSIGNMENT} changed since this class was graded (added {NEW_CELL})" in run.stdout
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.split()[:1] in (["ada"], ["ben"], ["cleo"])}
    for student in ("ada", "ben"):
        assert "submitted the earlier release" in rows[student] and NEW_CELL in rows[student], run.stdout
        assert "deleted" not in rows[student]
    assert "earlier release" not in rows["cleo"]
    graded = Course(ta)
    assert graded.max_score(ASSIGNMENT) == 13
    ada = graded.cell_scores(ASSIGNMENT, "ada")
    assert sum(score for cell, (score, _) in ada.items() if cell != NEW_CELL) == 12
    assert graded.cell_scores(ASSIGNMENT, "cleo")[NEW_CELL][1] == 1
    again = course("grade", ASSIGNMENT, "--root", str(ta))    # and from now on, grading is ordinary again
    assert again.returncode == 0 and "WARNING: source/" not in again.stdout, again.stdout + again.stderr
