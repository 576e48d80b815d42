"""The answer keys run without a pytest session per notebook, with pytest's verdicts exactly."""

from __future__ import annotations

import textwrap
import time

import nbformat
import pytest

from autograder.preprocessors.judge import is_autograder_test, read_answers
from autograder.keyrunner import _run_directly, key_file, run_key, run_key_with_pytest
from autograder.pipeline import grade_class
from tests.servers import ASSIGNMENT, make_class
from tests.conftest import needs_sandbox

ASSIGNMENTS = ["01-linear-classifier", "02-signals", "03-backprop-errors", "04-linear-network-by-hand", "05-mnist"]


def graded_cells(assignment: str) -> list[str]:
    from autograder.course import REPOSITORY, Course

    course = Course(REPOSITORY)
    notebook = nbformat.read(str(course.path("source", assignment, f"{course.notebooks(assignment)[0]}.ipynb")),
                             as_version=4)
    return [cell.metadata.nbgrader.grade_id for cell in notebook.cells if is_autograder_test(cell)]


def wrong_answers(cells: list[str]) -> list[dict]:
    """Answers no key accepts: nothing recorded, wrong types, wrong shapes."""
    return [
        {cell: {} for cell in cells},
        {cell: {"x": "not a number"} for cell in cells},
        {cell: {name: [[1.0, 2.0]] for name in ("X", "O", "value", "values", "shape", "w", "y")} for cell in cells},
        {cells[0]: {"anything": 1}},
    ]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.slow
def test_every_key_runs_directly_with_pytests_verdicts(assignment):
    path = key_file(assignment)
    for answers in wrong_answers(graded_cells(assignment)):
        direct = _run_directly(path, answers)
        assert direct is not None, f"{assignment}'s key needs pytest: the direct runner declined it"
        assert direct == run_key_with_pytest(path, answers)  # verdicts, messages, named mistakes, key cells


@pytest.mark.sandbox
@needs_sandbox
def test_recorded_answers_of_a_graded_class_get_pytests_verdicts(tmp_path):
    scratch, kinds = make_class(tmp_path / "course", 3)  # correct, typical mistake, blank
    grade_class(scratch.course, ASSIGNMENT, workers=2)
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    seen = set()
    for student in kinds:
        notebook = nbformat.read(str(scratch.course.path("autograded", student, ASSIGNMENT, f"{name}.ipynb")),
                                 as_version=4)
        answers = {cell.metadata.nbgrader.grade_id: read_answers(cell)[0] for cell in notebook.cells
                   if is_autograder_test(cell) and read_answers(cell)[0]}
        direct = _run_directly(key_file(ASSIGNMENT), answers)
        assert direct == run_key_with_pytest(key_file(ASSIGNMENT), answers)
        seen.add(tuple(sorted((cell, v.passed, v.total) for cell, v in direct[0].items())))
    assert len(seen) == 3  # three different outcomes were compared, not one three times


def test_judging_costs_far_less_than_a_pytest_session():
    path, answers = key_file(ASSIGNMENT), {cell: {} for cell in graded_cells(ASSIGNMENT)}
    run_key(path, answers)  # compiled once per process
    start = time.perf_counter()
    for _ in range(5):
        run_key(path, answers)
    direct = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    run_key_with_pytest(path, answers)
    session = time.perf_counter() - start
    assert direct < session / 5


def write_key(folder, body: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    path = folder / "demo.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_key_using_other_pytest_features_goes_through_pytest(tmp_path):
    path = write_key(tmp_path / "fixture", """
        import pytest

        @pytest.fixture
        def limit():
            return 3

        def test_cell(answer, limit):
            assert answer["x"] < limit, "x is too large"
    """)
    answers = {"cell": {"x": 5}}
    assert _run_directly(path, answers) is None
    verdicts, keyed = run_key(path, answers)
    assert keyed == {"cell"} and verdicts["cell"].messages == ["x is too large"]
    skipping = write_key(tmp_path / "skip", """
        import pytest

        @pytest.mark.skip
        def test_cell(answer):
            pass
    """)
    assert _run_directly(skipping, answers) is None


def test_each_notebook_gets_a_fresh_key_module(tmp_path):
    # A key that keeps state at module level starts clean for every notebook, as under pytest.
    path = write_key(tmp_path / "state", """
        import pytest

        SEEN = []

        @pytest.mark.parametrize("part", ["a", "b"])
        def test_cell(answer, part):
            SEEN.append(answer["x"])
            assert len(SEEN) <= 2, f"state leaked: {SEEN}"
            assert answer["x"] == 1, "x should be 1"
    """)
    for _ in range(3):
        verdicts, _ = run_key(path, {"cell": {"x": 2}})
        assert verdicts["cell"].messages == ["[a] x should be 1", "[b] x should be 1"]
        assert (verdicts["cell"].passed, verdicts["cell"].total) == (0, 2)
