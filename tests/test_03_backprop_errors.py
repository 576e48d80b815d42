"""Assignment 03: named mistakes get named messages, manual cells carry rubrics.

One autograded submission holds six typical mistakes, each in a different
cell: each must cost its own cell only, with a message that names it.
"""

from __future__ import annotations

import pytest

from autograder.course import REPOSITORY
from autograder.grading_session import fill_solutions

A = "03-backprop-errors"
MANUAL = {"normalisation_answer": 2, "derivation_answer": 3}

MISTAKES = {
    # Fits the worked example (both row sums are 5) and nothing else.
    "split_impl": (
        "def split_errors(W, e_next):\n"
        "    return np.asarray(W).T @ np.asarray(e_next) / 5.0\n"
        "e_hidden = split_errors(W_ho, e_output)\n"
        "W_ih = np.array([[3.0, 2.0], [1.0, 7.0]])\n"
        "e_input = split_errors(W_ih, e_hidden)\n"
    ),
    "matrix_impl": (
        "def backpropagate_errors(W, e_next):\n"
        "    return np.asarray(W) @ np.asarray(e_next)\n"
        "e_hidden_matrix = backpropagate_errors(W_ho, e_output)\n"
    ),
    "dE_dw_output_impl": (
        "def dE_dw_output(t, o_out, o_hidden):\n"
        "    return -((t - o_out) * o_out * (1 - o_out)) @ o_hidden.T\n"
    ),
    "update_by_hand_impl": (
        "sum_in = 2.0 * 0.4 + 3.0 * 0.5\n"
        "out = float(sigmoid(sum_in))\n"
        "dE_dw11 = -1.5 * 0.4\n"
        "new_w11 = 2.0 - 0.1 * dE_dw11\n"
    ),
    "weight_update_impl": (
        "def weight_update(errors, outputs, prev_outputs, lr):\n"
        "    return -lr * (errors * outputs * (1 - outputs)) @ prev_outputs.T\n"
    ),
    "gradcheck_impl": (
        "def numerical_gradient(f, W, h=1e-5):\n"
        "    grad = np.zeros_like(W)\n"
        "    base = f(W)\n"
        "    for i in np.ndindex(W.shape):\n"
        "        old = W[i]\n"
        "        W[i] = old + h\n"
        "        grad[i] = (f(W) - base) / h\n"
        "        W[i] = old\n"
        "    return grad\n"
        "def relative_error(a, b):\n"
        "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
        "    s = np.linalg.norm(a) + np.linalg.norm(b)\n"
        "    return 0.0 if s == 0 else float(np.linalg.norm(a - b) / s)\n"
    ),
}

MESSAGES = {
    "split": "split_errors, hidden case 1",
    "matrix": "without transposing it",
    "dE_dw_output": "the factor 2 is absorbed into the learning rate",
    "update_by_hand": "the sigmoid's slope o(1 - o) is missing",
    "weight_update": "the change has the wrong sign",
    "numerical_gradient": "one-sided (forward) differences are used",
}


@pytest.fixture(scope="module")
def mistaken(scratch):
    notebook = fill_solutions(scratch.release_notebook(A), scratch.source_notebook(A), replace=MISTAKES)
    return scratch.grade(A, notebook, "six-mistakes")


def test_each_mistake_costs_only_its_own_cell(mistaken, scratch):
    autograded = {c.metadata.nbgrader.grade_id for c in scratch.source_notebook(A).cells
                  if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    losing = {cell for cell in autograded if mistaken.cells[cell][0] < mistaken.cells[cell][1]}
    assert losing == set(MESSAGES)
    assert mistaken.cells["relative_error"] == (1.0, 1.0)
    assert mistaken.cells["dE_dw_hidden"] == (2.0, 2.0)


@pytest.mark.parametrize("cell", sorted(MESSAGES))
def test_each_mistake_is_named(mistaken, cell):
    assert MESSAGES[cell] in mistaken.cell_output_text(cell)


def test_partial_credit_where_only_part_is_wrong(mistaken):
    # Only dE_dw11 is wrong: new_w11 = 2.0 - 0.1 * dE_dw11 is right on the student's own dE_dw11
    # (error carried forward), so 3 of 4 checks pass.
    assert mistaken.cells["update_by_hand"] == (2.25, 3.0)
    # Forward differences are too inaccurate for both gradients; W is left unchanged (1 of 3 checks).
    assert mistaken.cells["numerical_gradient"][0] == pytest.approx(2 / 3, abs=0.01)
    # The hard-coded split passes the hand example (e_hidden, W_ih) but not the hidden cases or e_input,
    # which has a part of its own: 1 of 3 checks.
    assert mistaken.cells["split"][0] == pytest.approx(1.0)


def test_messages_never_show_expected_values(mistaken):
    for cell in MESSAGES:
        text = mistaken.cell_output_text(cell)
        for value in ("0.0497", "2.005", "0.362", "0.938", "2.1", "4.4"):
            assert value not in text, (cell, value)


def test_manual_cells_are_grade_and_solution_cells_with_points_and_a_rubric(scratch):
    cells = {c.metadata.nbgrader.grade_id: c for c in scratch.source_notebook(A).cells
             if c.metadata.get("nbgrader", {}).get("grade_id") in MANUAL}
    assert set(cells) == set(MANUAL)
    for grade_id, cell in cells.items():
        meta = cell.metadata.nbgrader
        assert cell.cell_type == "markdown"
        assert meta["grade"] is True and meta["solution"] is True and meta["points"] == MANUAL[grade_id]
        assert "=== BEGIN MARK SCHEME ===" in cell.source and "=== END MARK SCHEME ===" in cell.source


def test_release_and_solutions_have_no_mark_scheme_and_the_gradebook_has_the_manual_cells(mistaken):
    release = (REPOSITORY / "release" / A / "backprop_errors.ipynb").read_text()
    solutions = (REPOSITORY / "solutions" / A / "backprop_errors.ipynb").read_text()
    assert "MARK SCHEME" not in release and "MARK SCHEME" not in solutions
    assert "Model answer" not in release and "Model answer" in solutions
    for grade_id, points in MANUAL.items():
        assert mistaken.cells[grade_id][1] == points
