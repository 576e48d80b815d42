"""What must hold for every assignment in source/.

- the source notebook, submitted as is, earns full marks;
- the untouched release earns 0 autograded points, and grading completes;
- release/ and solutions/ are exactly what generating them now produces;
- the release leaks no solution code, hidden-test code, mark scheme, or
  hidden expected value that the lesson does not itself teach;
- every graded cell has a key test, and every key test a graded cell;
- the assignment's typical mistake loses exactly the cells it should.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import consistency
from autograder.course import REPOSITORY
from autograder.grading_session import GradedNotebook, ScratchCourse, fill_solutions
from autograder.preprocessors.judge import autograded_ids
from autograder.keyrunner import key_file
from autograder.release_changes import stale_cells
from exercises.answers import ANSWER_MIME, decode
from tests.conftest import course_assignments

ASSIGNMENTS = course_assignments()
_graded: dict[tuple[str, str], GradedNotebook] = {}


def graded(scratch: ScratchCourse, assignment: str, variant: str) -> GradedNotebook:
    """Autograde the source or the untouched release once per run."""
    if (assignment, variant) not in _graded:
        notebook = scratch.source_notebook(assignment) if variant == "source" else scratch.release_notebook(assignment)
        _graded[assignment, variant] = scratch.grade(assignment, notebook, f"{variant}-{assignment}")
    return _graded[assignment, variant]


def test_the_course_has_assignments():
    assert "02-signals" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_earns_full_marks(scratch, assignment):
    result = graded(scratch, assignment, "source")
    lost = {cell: result.cell_output_text(cell)[:300] for cell, (score, points) in result.cells.items()
            if score is not None and score != points and cell in _autograded_ids(scratch, assignment)}
    assert lost == {}
    autograded_points = sum(points for cell, (_, points) in result.cells.items()
                            if cell in _autograded_ids(scratch, assignment))
    assert autograded_points > 0
    assert sum(result.cells[c][0] for c in _autograded_ids(scratch, assignment)) == autograded_points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_earns_zero(scratch, assignment):
    result = graded(scratch, assignment, "release")
    assert result.notebook is not None, result.log
    auto = {cell: score for cell, (score, _) in result.cells.items() if cell in _autograded_ids(scratch, assignment)}
    assert auto and all(score == 0 for score in auto.values()), auto
    # Every zero comes with a reason the student can act on.
    for cell in auto:
        assert "recorded" in result.cell_output_text(cell) or "Error" in result.cell_output_text(cell)


def _autograded_ids(scratch: ScratchCourse, assignment: str) -> set[str]:
    return autograded_ids(scratch.source_notebook(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_keys_cover_exactly_the_graded_cells(scratch, assignment):
    tests = consistency.key_tests(key_file(assignment))
    assert tests == _autograded_ids(scratch, assignment)
    notebook = scratch.course.notebooks(assignment)[0]
    assert consistency.problems(scratch.course.path("source", assignment, f"{notebook}.ipynb"), assignment) == []


def test_consistency_check_reports_a_missing_key_test(tmp_path):
    (tmp_path / "02-signals.py").write_text(
        "TYPICAL_MISTAKE = {'cell': 'sigmoid_impl', 'loses': ['sigmoid']}\n"
        "def test_sigmoid(answer):\n    pass\n"
        "def test_retired_cell(answer):\n    pass\n")
    found = consistency.problems(REPOSITORY / "source/02-signals/signals.ipynb", "02-signals", tmp_path)
    assert "02-signals: graded cell 'query' has no test_query in 02-signals.py" in found
    assert "02-signals: 02-signals.py has test_retired_cell but the notebook has no graded cell 'retired_cell'" in found


def _cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text())
    return [{"cell_type": c["cell_type"], "source": "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             "metadata": c.get("metadata", {})} for c in nb["cells"]]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_generation_produces(scratch, assignment):
    fresh = scratch.release(assignment)
    committed = REPOSITORY / "release" / assignment
    # Checkpoints that JupyterLab writes beside an opened notebook are not part of the release (git ignores them).
    listed = lambda folder: sorted(p.name for p in folder.iterdir() if p.name != ".ipynb_checkpoints")
    names = listed(fresh)
    assert names == listed(committed), "run: course generate " + assignment
    # Which cells differ, in words (the same check as `course check`), before the exact comparison.
    assert stale_cells(committed, fresh) == [], f"release/{assignment} is stale: run `course generate {assignment}`"
    for name in names:
        assert json.loads((committed / name).read_text()) == json.loads((fresh / name).read_text()), (
            f"release/{assignment}/{name} is stale: run `course generate {assignment}`")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_are_what_generation_produces(scratch, assignment):
    fresh = scratch.solutions(assignment)
    committed = REPOSITORY / "solutions" / assignment
    for path in fresh.glob("*.ipynb"):
        assert _cells(committed / path.name) == _cells(path), f"solutions/{assignment} is stale: run `course generate`"
        executed = json.loads((committed / path.name).read_text())
        outputs = [c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"]
        assert any(outputs), "the committed solutions were not executed"
        assert not any(o.get("output_type") == "error" for out in outputs for o in out or []), "a solution cell errors"


def _source_regions(source_nb, begin: str, end: str) -> list[str]:
    lines = []
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and len(line.strip()) >= 12:
                lines.append(line.strip())
    return lines


def _hidden_values(result: GradedNotebook) -> set[str]:
    """Recorded answers of the (correct) source, as the text a leak would show."""
    numbers: set[str] = set()

    def visit(value):
        if isinstance(value, np.ndarray):
            for item in value.ravel()[:200]:
                visit(float(item))
        elif isinstance(value, float) and np.isfinite(value):
            for digits in (4, 3):   # exact, and rounded by hand as the book does
                text = f"{value:.{digits}f}".rstrip("0")
                if len(text.split(".")[-1]) >= 3 and abs(value) > 1e-3:
                    numbers.add(text)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    for cell in result.notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(ANSWER_MIME)
            if payload:
                visit(decode(payload["value"]))
    return numbers


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_leaks_nothing(scratch, assignment):
    source = scratch.source_notebook(assignment)
    release_dir = REPOSITORY / "release" / assignment
    text = "\n".join(p.read_text() for p in release_dir.glob("*.ipynb"))
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME", ANSWER_MIME):
        assert marker not in text
    release_json = "\n".join(json.dumps(json.loads(p.read_text())) for p in release_dir.glob("*.ipynb"))
    unescaped = json.loads(json.dumps(release_json))
    leaked_code = [line for line in _source_regions(source, "BEGIN SOLUTION", "END SOLUTION")
                   + _source_regions(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
                   if line in unescaped and not line.startswith("#")]
    assert leaked_code == []
    taught = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
    leaked_values = sorted(v for v in _hidden_values(graded(scratch, assignment, "source"))
                           if re.search(r"(?<![\d.])" + re.escape(v) + r"(?!\d)", unescaped) and v not in taught)
    assert leaked_values == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_typical_mistake_loses_exactly_its_cells(scratch, assignment):
    mistake = consistency.typical_mistake(key_file(assignment))
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                              replace={mistake["cell"]: mistake["source"]})
    result = scratch.grade(assignment, notebook, f"mistake-{assignment}")
    autograded = _autograded_ids(scratch, assignment)
    losing = {cell for cell in autograded if result.cells[cell][0] < result.cells[cell][1]}
    assert losing == set(mistake["loses"])
    for cell in losing:
        shown = json.dumps(result.notebook.cells[_index(result.notebook, cell)].outputs)
        assert "WrongAnswer" in shown or "Partly correct" in shown


def _index(notebook: nbformat.NotebookNode, grade_id: str) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise KeyError(grade_id)
