"""Answer key for 02 — Signals through a network.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. Hidden inputs are regenerated here from the same seeds the cell
uses, and the expected values are computed here, outside the student's kernel.
"""

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import kstest

from autograder.checks import WrongAnswer, agrees, expect_close, expect_close_carried, expect_in_range, expect_shape

# The worked examples of the deck (COURSE.md §02).
W_TWO = np.array([[0.9, 0.3], [0.2, 0.8]])
I_TWO = np.array([1.0, 0.5])
W_IH = np.array([[0.9, 0.3, 0.4], [0.2, 0.8, 0.2], [0.1, 0.5, 0.6]])
W_HO = np.array([[0.3, 0.7, 0.5], [0.6, 0.5, 0.2], [0.8, 0.1, 0.9]])
I_THREE = np.array([0.9, 0.1, 0.8])
# Tolerances, each from what its check is about:
# - HAND_ROUNDING: one rule for every value typed from the book in this notebook (O_two, the three-layer
#   example): it may be typed to 3 decimals as the book prints it, and the book rounds its intermediate values
#   too (X_output = [0.975, 0.888, 1.254]), so 1.5e-3 and nothing looser (ulps=0). Every named mistake is off
#   by more than 0.01.
HAND_ROUNDING = 1.5e-3
HAND = {"rtol": 0.0, "atol": HAND_ROUNDING, "ulps": 0}
# - FORMULA: a few operations, every algebraically equal form agrees to a few units in the last place, and
#   float32 is a legitimate choice: rtol 1e-6, loosened to float32's precision (autograder.checks.tolerances).
FORMULA = {"rtol": 1e-6, "atol": 1e-12, "precision": np.float32}
# - SIGMOID: a sigmoid's output matters on the scale of its range, 1: absolute agreement to float32's
#   precision there. So σ(−745) = 5e-324 and a clipped 7e-218 both count as the 0 they stand for.
SIGMOID = {"rtol": 1e-6, "atol": 1e-12, "precision": np.float32, "scale": 1.0}

#: The typical mistake the demo class makes in this assignment (see `course demo`).
TYPICAL_MISTAKE = {
    "cell": "three_layer_impl",
    "source": (
        "X_hidden = W_ih.T @ I_three   # oops: the weights typed in the wrong orientation\n"
        "O_hidden = sigmoid(X_hidden)\n"
        "X_output = W_ho.T @ O_hidden\n"
        "O_output = sigmoid(X_output)\n"
        "print(O_output)"
    ),
    "loses": ["three_layer"],
}


@pytest.mark.parametrize("part", ["values", "extremes"])
def test_sigmoid(answer, part):
    # Judged from raw values only: a warning counted in the student's kernel could say anything, so the
    # key asks that the values at ±745 and ±1000 be finite and right (the notebook shows the warning).
    if part == "values":
        grid = np.linspace(-40, 40, 33).reshape(3, 11)
        expect_close(answer["grid"], expit(grid), "sigmoid on a 3×11 grid of inputs", **SIGMOID,
                     mistakes={"the minus sign in e^(-x) is missing": expit(-grid)})
        expect_close(answer["scalar"], expit(-2.5), "sigmoid of a plain float", **SIGMOID, mistakes={
            "the minus sign in e^(-x) is missing": expit(2.5)})
    else:
        hint = "Hint: e^(-|x|) never overflows, so write σ with it for x < 0 and for x ≥ 0."
        extremes = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
        expect_close(answer["extremes"], expit(extremes), "sigmoid at ±745 and ±1000", **SIGMOID, hint=hint)
        wide = np.linspace(-1000, 1000, 41)
        expect_close(answer["wide"], expit(wide), "sigmoid on 41 inputs from −1000 to 1000", **SIGMOID, hint=hint)


def sigmoid_is_wrong(recorded) -> bool:
    """Whether the sigmoid cell's own recorded values are wrong (judged here, from raw values)."""
    cell = recorded["sigmoid"]
    grid = np.linspace(-40, 40, 33).reshape(3, 11)
    return not (agrees(cell.get("grid"), expit(grid), **SIGMOID) and agrees(cell.get("scalar"), expit(-2.5), **SIGMOID))


def test_combined_input(answer):
    rng = np.random.default_rng(202)
    cases = [(rng.normal(size=n), rng.normal(size=n)) for n in (2, 3, 7)]
    # A sum of products can cancel: its precision is set by the size of the terms, not of the sum.
    terms = max(float(np.sum(np.abs(i * w))) for i, w in cases)
    expect_close(answer["sums"], [float(np.dot(i, w)) for i, w in cases], "combined_input on three hidden cases",
                 **dict(FORMULA, scale=terms), hint="multiply each input by the weight on its own link, then add.")


@pytest.mark.parametrize("part", ["W", "X", "O"])
def test_two_node(answer, part):
    # Error carried forward inside the cell: X is judged on the student's own W when W is wrong, O on the
    # student's own X when X is wrong, so one wrong step costs one part.
    if part == "W":
        expect_close(answer["W"], W_TWO, "W_two", **FORMULA,
                     mistakes={"W is typed transposed (rows must be receiving nodes)": W_TWO.T})
    elif part == "X":
        own_w = expect_shape(answer["W"], (2, 2), "W_two")
        expect_close_carried(answer["X"], W_TWO @ I_TWO, "X_two", **FORMULA,
                             carried=None if agrees(own_w, W_TWO, **FORMULA) else own_w @ I_TWO,
                             carried_from="your W_two",
                             mistakes={"the product uses W transposed": W_TWO.T @ I_TWO})
    else:
        own_x = expect_shape(answer["X"], (2,), "X_two")
        # A value typed from the book: to 3 decimals, as for every typed value in this notebook (HAND).
        expect_close_carried(answer["O"], expit(W_TWO @ I_TWO), "O_two", **HAND,
                             carried=None if agrees(own_x, W_TWO @ I_TWO, **FORMULA) else expit(own_x),
                             carried_from="your X_two", mistakes={"the sigmoid is left out": W_TWO @ I_TWO})


@pytest.mark.parametrize("part", ["X_hidden", "O_hidden", "X_output", "O_output"])
def test_three_layer(answer, part):
    # Error carried forward inside the cell: each quantity is judged on the student's own previous one
    # when that one is wrong, so a transposed W_ih costs X_hidden and not everything after it.
    x_hidden = W_IH @ I_THREE
    o_hidden = expit(x_hidden)
    x_output = W_HO @ o_hidden
    hand = HAND
    if part == "X_hidden":
        expect_close(answer["X_hidden"], x_hidden, "X_hidden", **hand,
                     mistakes={"W_ih is used transposed (rows must be receiving nodes)": W_IH.T @ I_THREE})
    elif part == "O_hidden":
        own = expect_shape(answer["X_hidden"], (3,), "X_hidden")
        expect_close_carried(answer["O_hidden"], o_hidden, "O_hidden", **hand,
                             carried=None if agrees(own, x_hidden, **hand) else expit(own),
                             carried_from="your X_hidden",
                             mistakes={"the sigmoid is left out": x_hidden},
                             carried_mistakes={"the sigmoid is left out": own})
    elif part == "X_output":
        own = expect_shape(answer["O_hidden"], (3,), "O_hidden")
        own_x = expect_shape(answer["X_hidden"], (3,), "X_hidden")
        expect_close_carried(answer["X_output"], x_output, "X_output", **hand,
                             carried=None if agrees(own, o_hidden, **hand) else W_HO @ own,
                             carried_from="your O_hidden", mistakes={
                                 "W_ho is used transposed (rows must be receiving nodes)": W_HO.T @ o_hidden,
                                 "the output layer uses X_hidden instead of O_hidden": W_HO @ x_hidden},
                             carried_mistakes={"W_ho is used transposed (rows must be receiving nodes)": W_HO.T @ own,
                                               "the output layer uses X_hidden instead of O_hidden": W_HO @ own_x})
    else:
        own = expect_shape(answer["X_output"], (3,), "X_output")
        expect_close_carried(answer["O_output"], expit(x_output), "O_output", **hand,
                             carried=None if agrees(own, x_output, **hand) else expit(own),
                             carried_from="your X_output", mistakes={"the sigmoid is left out": x_output},
                             carried_mistakes={"the sigmoid is left out": own})


INIT_SHAPE = (100, 400)
INIT_SPREAD = 400 ** -0.5
#: Goodness of fit: a Kolmogorov–Smirnov test of the draws against normal(0, 1/sqrt(n_in)), the distribution
#: the text asks for, fails below this p-value. Honest draws fail with this probability (the test's p-value is
#: uniform for them): 1e-6. Measured: over 1,000 honest seeds (tests/test_fair_grading.py) the smallest p-value
#: of 40,000 draws was 1.3e-3, so no seed failed. A three-point distribution {−√3s, 0, √3s} or a mix of two
#: magnitudes with the right sd gives p < 1e-300.
NORMAL_FIT = 1e-6


def looks_normal(draws, spread: float) -> bool:
    """Whether *draws* pass a Kolmogorov–Smirnov test against normal(0, *spread*) at :data:`NORMAL_FIT`."""
    return bool(kstest(np.ravel(draws), "norm", args=(0.0, spread)).pvalue >= NORMAL_FIT)


@pytest.mark.parametrize("part", ["shape_and_spread", "reproducible"])
def test_init_weights(answer, part):
    # Raw values only: the cell records the drawn weights and the draws of three generators; every mean,
    # spread and comparison is computed here (a statistic computed in the kernel could say anything).
    if part == "shape_and_spread":
        weights = answer["weights"]
        shape = np.shape(weights)
        if shape != INIT_SHAPE:
            raise WrongAnswer(f"init_weights(100, 400, rng) has shape {shape}; rows are receiving nodes: "
                              "(n_out, n_in) = (100, 400).")
        weights = expect_shape(weights, INIT_SHAPE, "init_weights(100, 400, rng)")
        if not np.all(np.isfinite(weights)):
            raise WrongAnswer("init_weights(100, 400, rng) contains nan or inf.")
        # 40,000 draws: the sample mean has a standard error of 0.05/200 = 2.5e-4, the sd one of 0.05/283;
        # the bands below are 8 and 13 standard errors wide. Then the shape: a goodness-of-fit test against
        # the normal distribution (looks_normal), which three moments cannot replace.
        # The spread first: with the wrong spread, a mean far from 0 says nothing about centring.
        spread = float(weights.std())
        expect_in_range(spread, 0.0475, 0.0525, "standard deviation of weights with 400 links in",
                        hint="the spread is 1/sqrt(n_in), the number of links INTO a node (the columns of W).")
        band = 8 * spread / np.sqrt(weights.size)   # 8 standard errors of the mean of these draws
        expect_in_range(float(weights.mean()), -band, band, "mean of the 40,000 weights",
                        hint="centre the weights on 0.")
        if not looks_normal(weights, INIT_SPREAD):
            raise WrongAnswer("the weights have the right mean and spread but are not drawn from a normal "
                              "distribution (their histogram has the wrong shape): draw with rng.normal.",
                              mistake="weights-not-normal")
    else:
        first, again, other = (np.asarray(answer[name], dtype=float) for name in ("seed3", "seed3_again", "seed4"))
        if first.shape != (5, 7):
            raise WrongAnswer(f"init_weights(5, 7, rng) has shape {first.shape}, not (5, 7).")
        if first.shape != again.shape or not np.array_equal(first, again):
            raise WrongAnswer("two generators with the same seed gave different weights: draw only from `rng`.")
        if first.shape == other.shape and np.array_equal(first, other):
            raise WrongAnswer("generators with different seeds gave the same weights: are you drawing from `rng`?")


def _reference_query(w_ih, w_ho, inputs):
    return expit(w_ho @ expit(w_ih @ inputs))


def own_query(recorded, part: str, w_ho: np.ndarray):
    """query's consequence of the student's own (wrong) sigmoid, from what the sigmoid cell recorded; or None.

    Error carried forward, from the earlier cell's own record: the sigmoid cell records its sigmoid on the
    hidden layer's signals of query's hidden case (``query_hidden_*``) and on the output layer's signals
    ``w_ho @`` those (``query_*``). No carried credit when the student's sigmoid is trivial (about
    constant over −40..40, or not finite) or gives the same output whatever the input: a constant query
    built on it would earn the points for nothing.
    """
    cell = recorded["sigmoid"]
    try:
        grid = np.asarray(cell.get("grid"), dtype=float)
        hidden = np.asarray(cell.get(f"query_hidden_{part}"), dtype=float)
        outputs = np.asarray(cell.get(f"query_{part}"), dtype=float)
    except (TypeError, ValueError):
        return None
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.ptp(grid) < 0.1:
        return None
    if hidden.shape[0:1] != (w_ho.shape[1],) or outputs.shape != (w_ho.shape[0], hidden.shape[1] if hidden.ndim == 2 else 0):
        return None
    if not (np.all(np.isfinite(hidden)) and np.all(np.isfinite(outputs))) or np.ptp(hidden) < 1e-9 or np.ptp(outputs) < 1e-9:
        return None
    return outputs


@pytest.mark.parametrize("part", ["column", "batch"])
def test_query(answer, recorded, part):
    # Error carried forward: when the sigmoid's own cell is wrong, query is also judged on the student's
    # own sigmoid, as the sigmoid cell recorded it on query's hidden case (own_query): never on a value this
    # cell's kernel computed for itself.
    rng = np.random.default_rng(2024)
    w_ih, w_ho = rng.normal(size=(5, 4)), rng.normal(size=(3, 5))
    inputs = {"column": rng.uniform(0.01, 1.0, size=(4, 1))}
    inputs["batch"] = rng.uniform(0.01, 1.0, size=(4, 6))
    expect_close_carried(answer[part], _reference_query(w_ih, w_ho, inputs[part]), f"query on a hidden {part} input",
                         **SIGMOID, carried=own_query(recorded, part, w_ho) if sigmoid_is_wrong(recorded) else None,
                         carried_from="your sigmoid (Exercise 1)",
                         mistakes={"the hidden layer's sigmoid is missing": expit(w_ho @ (w_ih @ inputs[part]))})
