"""Fair to every correct answer: other precisions, other spellings, one mistake costs once.

Each submission here is graded by the real pipeline (nbgrader in the sandbox,
then the answer key):

- float32 versions of the solutions earn full marks. Two kinds: for every
  assignment, the solutions with everything they produce rounded to float32
  (arrays, numbers and what their functions return: ``float32_everywhere``);
  for 01–03 also solutions written to compute in float32 throughout;
- other correct spellings earn full marks: a sigmoid that clips its input to
  ±500, a legend drawn with ``fig.legend()``, capitalised species labels;
- each listed mistake loses only its own cell, with a message naming it, and
  a later cell done right on the wrong earlier value earns its points (error
  carried forward).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import consistency
from autograder.grading_session import GradedNotebook, ScratchCourse, fill_solutions
from autograder.preprocessors.judge import autograded_ids
from autograder.keyrunner import key_file
from tests.conftest import course_assignments

ASSIGNMENTS = course_assignments()

#: Appended to every solution cell: round every float array and number the cell made, and what the
#: functions it defines return, to float32. A generic float32 version of any assignment's solutions.
FLOAT32_EVERYWHERE = '''
import functools as _f32_functools
import numpy as _f32_np

def _f32(value):
    if isinstance(value, _f32_np.ndarray) and value.dtype == _f32_np.float64:
        return value.astype(_f32_np.float32)
    if isinstance(value, (float, _f32_np.float64)) and not isinstance(value, bool):
        return _f32_np.float32(value)
    if isinstance(value, tuple):
        return tuple(_f32(item) for item in value)
    if isinstance(value, list):
        return [_f32(item) for item in value]
    if isinstance(value, dict):
        return {key: _f32(item) for key, item in value.items()}
    return value

def _f32_wrap(function):
    @_f32_functools.wraps(function)
    def wrapped(*args, **kwargs):
        return _f32(function(*args, **kwargs))
    wrapped._f32 = True
    return wrapped

for _f32_name, _f32_value in list(globals().items()):
    if _f32_name.startswith("_"):
        continue
    if callable(_f32_value) and getattr(_f32_value, "__module__", None) == "__main__" \\
            and not isinstance(_f32_value, type) and not getattr(_f32_value, "_f32", False):
        globals()[_f32_name] = _f32_wrap(_f32_value)
    elif isinstance(_f32_value, (_f32_np.ndarray, float, dict)) and not isinstance(_f32_value, bool):
        globals()[_f32_name] = _f32(_f32_value)
'''

#: Solutions for 01–03 written to compute in float32 throughout (cell grade id → code).
FLOAT32_BY_HAND = {
    "01-linear-classifier": {
        "bug_error_impl": "E_ladybird = np.float32(1.1) - np.float32(0.25) * np.float32(3.0)\nprint(E_ladybird)",
        "refine_slope_impl": (
            "def refine_slope(A, x, target, lr=1.0):\n"
            "    A, x, target, lr = (np.float32(v) for v in (A, x, target, lr))\n"
            "    return A + lr * (target - A * x) / x\n"),
        "r_scale_impl": (
            "def r_scale(frame):\n"
            "    frame = frame.astype(np.float32)\n"
            "    return frame / np.sqrt((frame ** 2).sum() / (frame.count() - 1))\n"),
        "train_slope_impl": (
            "def train_slope(A, x, targets, lr, epochs=1):\n"
            "    history = np.empty(epochs * len(x), dtype=np.float32)\n"
            "    for step in range(epochs * len(x)):\n"
            "        A = refine_slope(A, x[step % len(x)], targets[step % len(x)], lr)\n"
            "        history[step] = A\n"
            "    return history\n\n"
            "def classify(A, x, y):\n"
            "    return np.where(np.float32(y) > np.float32(A) * np.float32(x), 'setosa', 'versicolor')\n"),
    },
    "02-signals": {
        "sigmoid_impl": (
            "def sigmoid(x):\n"
            "    x = np.asarray(x, dtype=np.float32)\n"
            "    small = np.exp(-np.abs(x))\n"
            "    return np.where(x >= 0, 1 / (1 + small), small / (1 + small)).astype(np.float32)\n"),
        "combined_input_impl": (
            "def combined_input(inputs, weights):\n"
            "    return np.float32(np.dot(np.asarray(inputs, np.float32), np.asarray(weights, np.float32)))\n"),
        "two_node_impl": (
            "W_two = np.array([[0.9, 0.3], [0.2, 0.8]], dtype=np.float32)\n"
            "I_two = np.array([1.0, 0.5], dtype=np.float32)\n"
            "X_two = W_two @ I_two\nO_two = sigmoid(X_two)\n"),
        "three_layer_impl": (
            "X_hidden = W_ih.astype(np.float32) @ I_three.astype(np.float32)\n"
            "O_hidden = sigmoid(X_hidden)\n"
            "X_output = W_ho.astype(np.float32) @ O_hidden\n"
            "O_output = sigmoid(X_output)\n"),
        "init_weights_impl": (
            "def init_weights(n_out, n_in, rng):\n"
            "    return rng.normal(0.0, n_in ** -0.5, size=(n_out, n_in)).astype(np.float32)\n"),
        "query_impl": (
            "def query(W_ih, W_ho, inputs):\n"
            "    W_ih, W_ho, inputs = (np.asarray(a, dtype=np.float32) for a in (W_ih, W_ho, inputs))\n"
            "    return sigmoid(W_ho @ sigmoid(W_ih @ inputs))\n"),
    },
    "03-backprop-errors": {
        "split_impl": (
            "def split_errors(W, e_next):\n"
            "    W = np.asarray(W, dtype=np.float32)\n"
            "    return (W / W.sum(axis=1, keepdims=True)).T @ np.asarray(e_next, dtype=np.float32)\n\n"
            "e_hidden = split_errors(W_ho, e_output)\n"
            "W_ih = np.array([[3.0, 2.0], [1.0, 7.0]], dtype=np.float32)\n"
            "e_input = split_errors(W_ih, e_hidden)\n"),
        "matrix_impl": (
            "def backpropagate_errors(W, e_next):\n"
            "    return np.asarray(W, dtype=np.float32).T @ np.asarray(e_next, dtype=np.float32)\n\n"
            "e_hidden_matrix = backpropagate_errors(W_ho, e_output)\n"),
        "dE_dw_output_impl": (
            "def dE_dw_output(t, o_out, o_hidden):\n"
            "    t, o_out, o_hidden = (np.asarray(a, dtype=np.float32) for a in (t, o_out, o_hidden))\n"
            "    return -2 * ((t - o_out) * o_out * (1 - o_out)) @ o_hidden.T\n"),
        "dE_dw_hidden_impl": (
            "def dE_dw_hidden(e_hidden, o_hidden, inputs):\n"
            "    e, o, x = (np.asarray(a, dtype=np.float32) for a in (e_hidden, o_hidden, inputs))\n"
            "    return -2 * (e * o * (1 - o)) @ x.T\n"),
        "update_by_hand_impl": (
            "sum_in = np.float32(2.0) * np.float32(0.4) + np.float32(3.0) * np.float32(0.5)\n"
            "out = np.float32(1) / (np.float32(1) + np.exp(-sum_in))\n"
            "dE_dw11 = np.float32(-1.5) * out * (np.float32(1) - out) * np.float32(0.4)\n"
            "new_w11 = np.float32(2.0) - np.float32(0.1) * dE_dw11\n"),
        "weight_update_impl": (
            "def weight_update(errors, outputs, prev_outputs, lr):\n"
            "    e, o, p = (np.asarray(a, dtype=np.float32) for a in (errors, outputs, prev_outputs))\n"
            "    return np.float32(lr) * (e * o * (1 - o)) @ p.T\n"),
        # Finite differences stay in float64, as the notebook asks (they divide by a small 2h);
        # relative_error computes in float32.
        "gradcheck_impl": (
            "def numerical_gradient(f, W, h=1e-5):\n"
            "    W = np.asarray(W, dtype=float)\n"
            "    grad = np.zeros_like(W)\n"
            "    for index in np.ndindex(W.shape):\n"
            "        original = W[index]\n"
            "        W[index] = original + h\n"
            "        above = f(W)\n"
            "        W[index] = original - h\n"
            "        below = f(W)\n"
            "        W[index] = original\n"
            "        grad[index] = (above - below) / (2 * h)\n"
            "    return grad\n\n"
            "def relative_error(a, b):\n"
            "    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)\n"
            "    scale = np.linalg.norm(a) + np.linalg.norm(b)\n"
            "    return np.float32(0.0) if scale == 0 else np.float32(np.linalg.norm(a - b) / scale)\n"),
    },
}

SOURCE_01_SCATTER_FIGURE_LEGEND = '''
fig_scatter, ax = plt.subplots(figsize=(6, 4.5))
for species, marker, colour in [("setosa", "o", "#F8766D"), ("versicolor", "^", "#00BFC4")]:
    rows = iris2[iris2["Species"] == species]
    ax.scatter(rows["Sepal.Length"], rows["Sepal.Width"], marker=marker, color=colour, label=species.capitalize())
ax.set(xlabel="Sepal Length", ylabel="Sepal Width")
fig_scatter.suptitle("Sepal Length-Width")
fig_scatter.legend(title="Species")
plt.show()
'''

CLIPPED_SIGMOID = '''
def sigmoid(x):
    x = np.clip(np.asarray(x, dtype=float), -500, 500)
    return 1.0 / (1.0 + np.exp(-x))
'''

#: Other correct spellings: (assignment, what, replaced cells).
OTHER_SPELLINGS = [
    ("01-linear-classifier", "figure legend, suptitle, capitalised labels", {"scatter_impl": SOURCE_01_SCATTER_FIGURE_LEGEND}),
    ("02-signals", "sigmoid clipped to ±500", {"sigmoid_impl": CLIPPED_SIGMOID}),
]

#: A mistake in one cell: (assignment, mistake, replaced cells, the cells that may lose points,
#: a phrase the message of each losing cell contains, cells that must keep full marks though they build on it).
MISTAKES = [
    ("01-linear-classifier", "refine_slope without the learning rate",
     {"refine_slope_impl": "def refine_slope(A, x, target, lr=1.0):\n    return A + (target - A * x) / x\n"},
     {"refine_slope": "the learning rate is not applied"}, ["train_slope", "rate_table", "accuracy"]),
    ("01-linear-classifier", "r_scale z-scores (R's default scale)",
     {"r_scale_impl": "def r_scale(frame):\n    return (frame - frame.mean()) / frame.std()\n"},
     {"scaled_frame": "centred"}, ["rate_table", "accuracy"]),
    ("01-linear-classifier", "train_slope records the starting slope first",
     {"train_slope_impl": (
         "def train_slope(A, x, targets, lr, epochs=1):\n"
         "    history = []\n"
         "    for _ in range(epochs):\n"
         "        for xi, ti in zip(x, targets):\n"
         "            history.append(A)\n"
         "            A = refine_slope(A, xi, ti, lr)\n"
         "    return np.array(history)\n\n"
         "def classify(A, x, y):\n"
         "    return np.where(y > A * x, 'setosa', 'versicolor')\n")},
     {"train_slope": "starting slope first"}, ["rate_table", "accuracy"]),
]


def autograded(scratch: ScratchCourse, assignment: str) -> set[str]:
    return autograded_ids(scratch.source_notebook(assignment))


def lost_cells(scratch: ScratchCourse, assignment: str, result: GradedNotebook) -> dict[str, str]:
    """The autograded cells that lost points, with what they say."""
    assert result.notebook is not None, result.log
    return {cell: result.cell_output_text(cell) for cell in autograded(scratch, assignment)
            if result.cells[cell][0] < result.cells[cell][1]}


def float32_everywhere(scratch: ScratchCourse, assignment: str):
    source = scratch.source_notebook(assignment)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
               and not c.metadata["nbgrader"].get("grade")}   # not the hand-graded extras
    replace = {cell: "\n".join(line for line in code.splitlines() if "### BEGIN SOLUTION" not in line
                               and "### END SOLUTION" not in line) + "\n" + FLOAT32_EVERYWHERE
               for cell, code in answers.items()}
    return fill_solutions(scratch.release_notebook(assignment), source, replace=replace)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_rounded_to_float32_earn_full_marks(scratch, assignment):
    """Covers every assignment in source/ (01–05)."""
    result = scratch.grade(assignment, float32_everywhere(scratch, assignment), f"float32-all-{assignment}")
    assert lost_cells(scratch, assignment, result) == {}


@pytest.mark.parametrize("assignment", sorted(FLOAT32_BY_HAND))
def test_solutions_computed_in_float32_earn_full_marks(scratch, assignment):
    """Covers 01, 02 and 03."""
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                              replace=FLOAT32_BY_HAND[assignment])
    result = scratch.grade(assignment, notebook, f"float32-{assignment}")
    assert lost_cells(scratch, assignment, result) == {}


@pytest.mark.parametrize("assignment, what, replace", OTHER_SPELLINGS, ids=[w for _, w, _ in OTHER_SPELLINGS])
def test_other_correct_spellings_earn_full_marks(scratch, assignment, what, replace):
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                              replace=replace)
    result = scratch.grade(assignment, notebook)
    assert lost_cells(scratch, assignment, result) == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_typical_mistake_is_named_and_costs_only_its_cells(scratch, assignment):
    mistake = consistency.typical_mistake(key_file(assignment))
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                              replace={mistake["cell"]: mistake["source"]})
    result = scratch.grade(assignment, notebook)
    lost = lost_cells(scratch, assignment, result)
    assert set(lost) == set(mistake["loses"])
    # The message names the mistake: expect_close's "this is what you get when …", or the phrase the
    # key's TYPICAL_MISTAKE gives under "named" when its message is worded otherwise.
    named = mistake.get("named", "this is what you get when")
    assert all(named in text for text in lost.values()), lost


@pytest.mark.parametrize("assignment, what, replace, loses, keep", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_a_mistake_costs_once_and_is_named(scratch, assignment, what, replace, loses, keep):
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                              replace=replace)
    result = scratch.grade(assignment, notebook)
    lost = lost_cells(scratch, assignment, result)
    assert set(lost) == set(loses), {cell: text[:400] for cell, text in lost.items()}
    for cell, phrase in loses.items():
        assert phrase in lost[cell], lost[cell]
    for cell in keep:
        assert result.cells[cell][0] == result.cells[cell][1]


# -- messages never give the answer away ----------------------------------------------------------

# (A single number's message gives neither direction nor band: tests/test_wrong_work.py counts the gradings
# a search for a hidden value would need.)


def test_the_wrong_places_message_only_for_a_real_permutation():
    from autograder.checks import WrongAnswer, expect_close

    expected = np.array([0.1, 0.2, 0.3])
    with pytest.raises(WrongAnswer, match="in the wrong places"):
        expect_close(expected[::-1], expected, "e")
    with pytest.raises(WrongAnswer) as less_precise:
        expect_close(expected * (1 + 1e-4), expected, "e", rtol=1e-9, atol=1e-12)
    assert "wrong places" not in str(less_precise.value) and "slightly off" in str(less_precise.value)


def test_tolerances_follow_the_answers_precision_and_the_size_of_the_values():
    from autograder.checks import WrongAnswer, expect_close

    x = np.linspace(-40, 40, 33)
    exact = 1 / (1 + np.exp(-x))
    expect_close(exact.astype(np.float32), exact, "float32 sigmoid", rtol=1e-9, atol=1e-12)
    with pytest.raises(WrongAnswer):          # the same error in a float64 answer is an error
        expect_close(exact.astype(np.float32).astype(np.float64), exact, "float64", rtol=1e-9, atol=1e-12)
    # sigmoid(-745) is 5e-324; a sigmoid clipped at -500 gives 7e-218: both are 0 on the scale of 1.
    expect_close([7.1e-218, 0.5], [5e-324, 0.5], "clipped", rtol=1e-9, atol=1e-300)
