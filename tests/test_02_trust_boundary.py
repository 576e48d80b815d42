"""Assignment 02 end to end: wrong answers, hostile kernels and broken files.

The grade is decided by the answer key in the grading process, so nothing a
student's kernel does can raise a score, and one bad submission never
touches another student's grade.
"""

from __future__ import annotations

import csv
import re

import nbformat
import pytest

from autograder.grading_session import fill_solutions
from autograder.preprocessors.judge import autograded_ids
from autograder.pipeline import grade_class

A = "02-signals"
HIDDEN_EXPECTED = ["0.7263", "0.726", "0.7781", "0.9759", "0.8886", "1.2546", "0.7408"]

HACKS = {
    "allclose_always_true": """
import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones(np.shape(a), dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_almost_equal = lambda *a, **k: None
""",
    "input_transformer_pass": """
def _skip_everything(lines):
    return ["pass\\n"]
get_ipython().input_transformers_post.append(_skip_everything)
""",
    "silenced_tracebacks": """
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip._showtraceback = lambda *a, **k: None
""",
    "forged_records": """
from IPython.display import display
from exercises.answers import ANSWER_MIME, encode
import numpy as np
def _forge(*args, **kwargs):
    for name in ["grid", "scalar", "extremes", "sums", "W", "X", "O", "X_hidden", "O_hidden", "X_output",
                 "O_output", "column", "batch"]:
        display({ANSWER_MIME: {"name": name, "value": encode(np.full(3, 0.5))}, "text/plain": "forged"}, raw=True)
get_ipython().events.register("post_run_cell", _forge)
""",
}


def with_cell_after_imports(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    hacked = nbformat.from_dict(notebook)
    at = [cell.get("id") for cell in hacked.cells].index("imports") + 1
    hacked.cells.insert(at, nbformat.v4.new_code_cell(source.strip()))
    return hacked


def points(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """Each autograded cell's points, read from the notebook (never written here by hand)."""
    graded = autograded_ids(notebook)
    return {c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points) for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade_id") in graded}


@pytest.fixture(scope="module")
def total(scratch) -> float:
    return sum(points(scratch.source_notebook(A)).values())


@pytest.fixture(scope="module")
def notebooks(scratch):
    release = scratch.release_notebook(A)
    source = scratch.source_notebook(A)
    return {"release": release, "solved": fill_solutions(release, source)}


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_a_hack_on_an_unanswered_notebook_earns_nothing(scratch, notebooks, hack):
    result = scratch.grade(A, with_cell_after_imports(notebooks["release"], HACKS[hack]), f"hack-{hack}")
    assert result.notebook is not None, result.log
    assert result.score == 0


@pytest.mark.parametrize("hack", ["allclose_always_true", "silenced_tracebacks"])
def test_a_hack_on_a_wrong_answer_earns_no_more_than_the_honest_score(scratch, notebooks, total, hack):
    wrong = fill_solutions(notebooks["release"], scratch.source_notebook(A),
                           replace={"sigmoid_impl": "def sigmoid(x):\n    return 1 / (1 + np.exp(x))"})
    honest = scratch.grade(A, wrong, f"honest-{hack}")
    hacked = scratch.grade(A, with_cell_after_imports(wrong, HACKS[hack]), f"dishonest-{hack}")
    assert honest.cells["sigmoid"][0] == 0
    assert hacked.cells["sigmoid"][0] == 0
    assert hacked.cells == honest.cells and hacked.score == honest.score < total


def test_one_wrong_answer_costs_that_cell_only_and_feedback_explains_without_the_answer(scratch, notebooks, total):
    wrong = fill_solutions(notebooks["release"], scratch.source_notebook(A), replace={
        "three_layer_impl": "X_hidden = W_ih @ I_three\nO_hidden = sigmoid(X_hidden)\n"
                            "X_output = W_ho @ X_hidden\nO_output = sigmoid(X_output)"})
    result = scratch.grade(A, wrong, "one-wrong")
    # One wrong step of four: X_output. O_output, the sigmoid of the student's own X_output, is right
    # (error carried forward), so the cell keeps three quarters of its points.
    worth = points(scratch.source_notebook(A))["three_layer"]
    assert result.cells["three_layer"] == (0.75 * worth, worth)
    assert all(score == full for cell, (score, full) in result.cells.items() if cell != "three_layer")
    assert result.score == total - 0.25 * worth
    scratch.course.generate_feedback(A, "one-wrong")
    html = (scratch.course.path("feedback", "one-wrong", A) / "signals.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert "X_output: this is what you get when the output layer uses X_hidden instead of O_hidden" in text
    assert "HIDDEN TESTS" not in html and "_W_ih" not in html and "default_rng(2024)" not in html
    for value in HIDDEN_EXPECTED:
        assert value not in html


def test_a_sigmoid_that_overflows_into_nan_loses_the_extremes(scratch, notebooks):
    # e^x / (1 + e^x) is inf / inf = nan at x = 1000: the raw values show it, no warning count needed.
    overflowing = fill_solutions(notebooks["release"], scratch.source_notebook(A),
                                 replace={"sigmoid_impl": "def sigmoid(x):\n    e = np.exp(np.asarray(x, dtype=float))\n"
                                                          "    return e / (1 + e)"})
    result = scratch.grade(A, overflowing, "overflow-nan")
    worth = points(scratch.source_notebook(A))["sigmoid"]
    assert result.cells["sigmoid"] == (worth / 2, worth)
    assert "nan or inf" in result.cell_output_text("sigmoid")
    assert "e^(-|x|) never overflows" in result.cell_output_text("sigmoid")


def test_a_sigmoid_whose_values_are_right_earns_its_points_and_sees_its_warning(scratch, notebooks):
    # 1 / (1 + e^(-x)) warns at x = -1000 but its values are right; a warning counted in the kernel could
    # say anything, so the key judges the values, and the notebook shows the warning to the student.
    warning = fill_solutions(notebooks["release"], scratch.source_notebook(A),
                             replace={"sigmoid_impl": "def sigmoid(x):\n    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))"})
    result = scratch.grade(A, warning, "overflow-warns")
    worth = points(scratch.source_notebook(A))["sigmoid"]
    assert result.cells["sigmoid"] == (worth, worth)
    assert "warns: overflow" in result.cell_output_text("sigmoid")


WRONG_INIT = "def init_weights(n_out, n_in, rng):\n    return rng.uniform(0.0, 1.0, size=(n_out, n_in))\n"
NUMPY_LIES = """
import numpy as np
np.mean = lambda *a, **k: 0.0
np.std = lambda *a, **k: 0.05
np.array_equal = lambda a, b, *x, **k: True
"""


def test_a_wrong_init_with_a_patched_numpy_earns_no_init_weights_points(scratch, notebooks):
    wrong = fill_solutions(notebooks["release"], scratch.source_notebook(A), replace={"init_weights_impl": WRONG_INIT})
    honest = scratch.grade(A, wrong, "init-honest")
    lying = scratch.grade(A, with_cell_after_imports(wrong, NUMPY_LIES), "init-lying")
    assert lying.notebook is not None, lying.log
    # uniform(0, 1) draws are reproducible (the seed part passes) but neither centred nor spread right.
    worth = points(scratch.source_notebook(A))["init_weights"]
    assert honest.cells["init_weights"] == lying.cells["init_weights"] == (worth / 2, worth)
    # The spread is judged first (with the wrong spread, the mean says nothing about centring).
    assert "standard deviation" in lying.cell_output_text("init_weights")


def test_broken_submissions_cost_only_their_own_points(scratch, notebooks, tmp_path):
    from autograder.grading_session import ScratchCourse

    course = ScratchCourse(tmp_path / "class")
    course.release(A)
    deleted = nbformat.from_dict(notebooks["solved"])
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    submissions = {"good": nbformat.writes(notebooks["solved"]).encode(),
                   "notjson": b'{"cells": [{"cell_type": "code", "sou',
                   "deleted": nbformat.writes(deleted).encode(),
                   "empty": None,
                   "blank": nbformat.writes(notebooks["release"]).encode()}
    for student, content in submissions.items():
        folder = course.course.path("submitted", student, A)
        folder.mkdir(parents=True)
        if content is not None:
            (folder / "signals.ipynb").write_bytes(content)

    report = grade_class(course.course, A)
    by_student = {r.student: r for r in report.results}
    assert set(by_student) == set(submissions)
    total = sum(points(notebooks["solved"]).values())
    assert (by_student["good"].score, by_student["good"].problem) == (total, None)
    assert by_student["blank"].score == 0
    assert "is not JSON" in by_student["notjson"].problem and "resubmit" in by_student["notjson"].problem
    deleted = by_student["deleted"]
    assert "graded cell(s) deleted" in " ".join(deleted.notes) and deleted.score == 0
    assert "graded cell(s) deleted" in report.table()
    assert "empty submission" in by_student["empty"].problem
    with open(report.grades_csv) as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == A}
    assert float(rows["good"]["score"]) == total
    assert all(float(rows[s]["score"]) == 0.0 for s in ("notjson", "deleted", "empty", "blank"))
    assert (course.course.path("feedback", "good", A) / "signals.html").exists()
