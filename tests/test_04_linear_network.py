"""Assignment 04: each typical mistake of Problem 1 gets its own message and
costs only its own cell (later cells are judged on the student's own earlier
values too), and ``backward`` is judged on deeper networks than the worked
example."""

from __future__ import annotations

import pytest

from autograder.course import REPOSITORY
from autograder.grading_session import fill_solutions

A = "04-linear-network-by-hand"
MANUAL = {"step_answer": 2}

#: Variant "late_w2": delta1 from the already-updated W2; a backward() written out for two layers.
LATE_W2 = {
    "backward_impl": (
        "delta2 = x2 - t\n"
        "dE_dW2 = delta2 @ x1.T\n"
        "W2_updated = W2 - alpha * dE_dW2\n"
        "delta1 = W2_updated.T @ delta2\n"
        "dE_dW1 = delta1 @ x0.T\n"
    ),
    "backward_general_impl": (
        "def backward(weights, biases, activations, target, derivative):\n"
        "    W1, W2 = weights\n"
        "    b1, b2 = biases\n"
        "    x0, x1, x2 = activations\n"
        "    delta2 = (x2 - target) * derivative(W2 @ x1 + b2)\n"
        "    delta1 = (W2.T @ delta2) * derivative(W1 @ x0 + b1)\n"
        "    return [delta1 @ x0.T, delta2 @ x1.T], [delta1, delta2]\n"
    ),
}
#: Variant "signs": biases updated uphill; backward() without the derivative factor.
SIGNS = {
    "update_impl": (
        "W1_new = W1 - alpha * dE_dW1\n"
        "W2_new = W2 - alpha * dE_dW2\n"
        "b1_new = b1 + alpha * delta1\n"
        "b2_new = b2 + alpha * delta2\n"
    ),
    "backward_general_impl": (
        "def backward(weights, biases, activations, target, derivative):\n"
        "    grads_W, grads_b = [], []\n"
        "    delta = activations[-1] - target\n"
        "    for i in reversed(range(len(weights))):\n"
        "        grads_W.insert(0, delta @ activations[i].T)\n"
        "        grads_b.insert(0, delta)\n"
        "        delta = weights[i].T @ delta\n"
        "    return grads_W, grads_b\n"
    ),
}
#: Variant "factor_2": the 2 of the square kept in delta2, and dE/dW2 transposed.
FACTOR_2 = {
    "backward_impl": (
        "delta2 = 2 * (x2 - t)\n"
        "delta1 = W2.T @ delta2\n"
        "dE_dW2 = x1 @ delta2.T\n"
        "dE_dW1 = delta1 @ x0.T\n"
    ),
}


#: Variant "in_place": the update done in place (W1 -= ...), so the notebook's W1 and W2 change under the
#: later exercises; and an after-step forward pass that keeps the old biases.
IN_PLACE = {
    "update_impl": (
        "W1 -= alpha * dE_dW1\n"
        "W2 -= alpha * dE_dW2\n"
        "W1_new, W2_new = W1, W2\n"
        "b1_new = b1 - alpha * delta1\n"
        "b2_new = b2 - alpha * delta2\n"
    ),
}
OLD_BIASES = {
    "after_impl": (
        "x2_after = W2_new @ (W1_new @ x0 + b1) + b2\n"
        "E_after = 0.5 * float(np.sum((x2_after - t) ** 2))\n"
    ),
}


#: Variant "zeroed_biases": a forward without biases, and the notebook's biases set to zero just before it is
#: graded, so that the bias-less forward looks right for what it was given. Nothing is carried forward from a
#: value that no earlier graded cell was charged for.
ZEROED_BIASES = {
    "forward_general_impl": (
        "b1, b2 = np.zeros_like(b1), np.zeros_like(b2)\n"
        "def forward(weights, biases, x, activation):\n"
        "    activations = [x]\n"
        "    for W in weights:\n"
        "        activations.append(activation(W @ activations[-1]))\n"
        "    return activations\n"
    ),
}


@pytest.fixture(scope="module")
def graded(scratch):
    results = {}

    def grade(name, replace):
        if name not in results:
            notebook = fill_solutions(scratch.release_notebook(A), scratch.source_notebook(A), replace=replace)
            results[name] = scratch.grade(A, notebook, f"variant-{name}")
        return results[name]
    return grade


def verdict(result, cell):
    """What the grader said about *cell* (without the "recorded ..." lines of its answers)."""
    return "\n".join(line for line in result.cell_output_text(cell).splitlines() if not line.startswith("recorded "))


def losing(result):
    return {cell for cell, (score, points) in result.cells.items()
            if cell not in MANUAL and score is not None and score < points}


def test_delta1_with_the_updated_w2_and_a_two_layer_backward(graded):
    result = graded("late_w2", LATE_W2)
    # delta1 is wrong; dE_dW1, W1_new and b1_new are done right on it (error carried forward).
    assert losing(result) == {"backward_by_hand", "backward_general"}
    by_hand = verdict(result, "backward_by_hand")
    assert "delta1: this is what you get when delta1 is computed with W2 AFTER its update" in by_hand
    assert "[dE_dW1]" not in by_hand
    assert result.cells["backward_by_hand"] == (3.0, 4.0)          # delta2, dE_dW2 and dE_dW1 are right
    assert result.cells["update_by_hand"] == (4.0, 4.0) and result.cells["error_after"] == (1.0, 1.0)


def test_a_backward_written_for_two_layers_fails_the_deeper_networks(graded):
    result = graded("late_w2", LATE_W2)
    # Passes Problem 1 and the 2-layer sigmoid network (2 of 6 parts), fails 1, 3 and 4 layers.
    assert result.cells["backward_general"] == (pytest.approx(5 * 2 / 6, abs=0.01), 5.0)
    text = verdict(result, "backward_general")
    assert "[sigmoid_3_layers]" in text and "[sigmoid_4_layers]" in text and "[tanh_3_layers]" in text
    assert "[problem1]" not in text and "[sigmoid_2_layers]" not in text


def test_biases_updated_with_the_wrong_sign_and_a_missing_derivative(graded):
    result = graded("signs", SIGNS)
    assert losing(result) == {"update_by_hand", "backward_general"}   # E_after is right for the student's values
    update = verdict(result, "update_by_hand")
    assert "b1_new: this is what you get when the bias is updated with the wrong sign" in update
    assert "b2_new: this is what you get when the bias is updated with the wrong sign" in update
    assert result.cells["update_by_hand"] == (2.0, 4.0)
    backward = verdict(result, "backward_general")
    assert "the derivative factor f'(z) is missing" in backward
    assert "[problem1]" not in backward                             # linear: the derivative is 1 anyway


def test_the_factor_2_and_a_transposed_gradient(graded):
    result = graded("factor_2", FACTOR_2)
    text = verdict(result, "backward_by_hand")
    assert "delta2: this is what you get when delta2 carries a factor 2" in text
    assert "dE_dW2: expected shape (2, 4), got (4, 2). It looks transposed" in text
    assert "[delta1]" not in text and "[dE_dW1]" not in text           # right for the student's own delta2
    assert result.cells["backward_by_hand"] == (2.0, 4.0)
    assert "update_by_hand" in losing(result) and "forward_general" not in losing(result)


def test_an_update_in_place_costs_only_the_update(graded):
    result = graded("in_place", IN_PLACE)
    # W1 and W2 changed under forward_general, backward_general and gradient_step: each is judged on the
    # parameters it found, so only the update itself loses points, with a message naming the mistake.
    assert losing(result) == {"update_by_hand"}
    assert result.cells["update_by_hand"] == (2.0, 4.0)
    update = verdict(result, "update_by_hand")
    assert "W1 was changed in place" in update and "W2 was changed in place" in update
    assert "[b1_new]" not in update and "[b2_new]" not in update
    for cell in ("error_after", "forward_general", "backward_general", "gradient_step"):
        assert result.cells[cell][0] == result.cells[cell][1], cell


def test_changing_a_value_between_cells_earns_nothing(graded):
    result = graded("zeroed_biases", ZEROED_BIASES)
    assert result.cells["forward_general"][0] == 0                  # problem1 and the hidden networks both fail
    assert "[problem1]" in verdict(result, "forward_general")
    for cell in ("forward_by_hand", "backward_by_hand", "update_by_hand", "error_after"):
        assert result.cells[cell][0] == result.cells[cell][1], cell


def test_the_error_after_the_step_with_the_old_biases_is_named(graded):
    result = graded("old_biases", OLD_BIASES)
    assert losing(result) == {"error_after"}
    assert "E_after: this is what you get when the forward pass after the step uses the new weights with the " \
           "OLD biases" in verdict(result, "error_after")


def test_messages_never_show_expected_values(graded):
    for variant, replace in [("late_w2", LATE_W2), ("signs", SIGNS), ("factor_2", FACTOR_2),
                             ("in_place", IN_PLACE), ("old_biases", OLD_BIASES)]:
        result = graded(variant, replace)
        for cell in losing(result):
            text = verdict(result, cell)
            for value in ("486", "679", "-44.6", "-66.9", "-9.5", "-11.1", "-261.5", "-95.2", "3.9159"):
                assert value not in text, (variant, cell, value)


def test_manual_cell_has_points_and_a_rubric_that_the_release_lacks(scratch, graded):
    cells = [c for c in scratch.source_notebook(A).cells if c.metadata.get("nbgrader", {}).get("grade_id") in MANUAL]
    assert len(cells) == 1
    meta = cells[0].metadata.nbgrader
    assert cells[0].cell_type == "markdown" and meta["grade"] and meta["solution"] and meta["points"] == 2
    assert "=== BEGIN MARK SCHEME ===" in cells[0].source and "=== END MARK SCHEME ===" in cells[0].source
    for folder in ("release", "solutions"):
        assert "MARK SCHEME" not in (REPOSITORY / folder / A / "linear_network.ipynb").read_text()
    assert graded("signs", SIGNS).cells["step_answer"][1] == 2
