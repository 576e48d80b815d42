"""Answer key for 02 — Signals through a network.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. Hidden inputs are regenerated here from the same seeds the cell
uses, and the expected values are computed here, outside the student's kernel.
"""

import numpy as np
import pytest
from scipy.special import expit

from autograder.checks import WrongAnswer, expect_close, expect_equal, expect_in_range

# The worked examples of the deck (COURSE.md §02).
W_TWO = np.array([[0.9, 0.3], [0.2, 0.8]])
I_TWO = np.array([1.0, 0.5])
W_IH = np.array([[0.9, 0.3, 0.4], [0.2, 0.8, 0.2], [0.1, 0.5, 0.6]])
W_HO = np.array([[0.3, 0.7, 0.5], [0.6, 0.5, 0.2], [0.8, 0.1, 0.9]])
I_THREE = np.array([0.9, 0.1, 0.8])
# The book rounds by hand (X_output = [0.975, 0.888, 1.254]); accept that too.
HAND_ROUNDING = 1.5e-3

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


@pytest.mark.parametrize("part", ["values", "no_overflow"])
def test_sigmoid(answer, part):
    if part == "values":
        grid = np.linspace(-40, 40, 33).reshape(3, 11)
        expect_close(answer["grid"], expit(grid), "sigmoid on a 3×11 grid of inputs", rtol=1e-9, atol=1e-12,
                     mistakes={"the minus sign in e^(-x) is missing": expit(-grid)})
        expect_close(answer["scalar"], expit(-2.5), "sigmoid of a plain float", rtol=1e-9)
    else:
        extremes = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
        expect_close(answer["extremes"], expit(extremes), "sigmoid at ±745 and ±1000", rtol=1e-9, atol=1e-300)
        if answer["warnings"] != 0:
            raise WrongAnswer(
                f"sigmoid at ±1000 raised {answer['warnings']} warning(s), probably an overflow in exp. "
                "Hint: e^(-|x|) never overflows."
            )


def test_combined_input(answer):
    rng = np.random.default_rng(202)
    cases = [(rng.normal(size=n), rng.normal(size=n)) for n in (2, 3, 7)]
    expect_close(answer["sums"], [float(np.dot(i, w)) for i, w in cases], "combined_input on three hidden cases",
                 hint="multiply each input by the weight on its own link, then add.")


def test_two_node(answer):
    expect_close(answer["W"], W_TWO, "W_two", mistakes={"W is typed transposed (rows must be receiving nodes)": W_TWO.T})
    expect_close(answer["X"], W_TWO @ I_TWO, "X_two", rtol=1e-6,
                 mistakes={"the product uses W transposed": W_TWO.T @ I_TWO})
    expect_close(answer["O"], expit(W_TWO @ I_TWO), "O_two", rtol=1e-4, atol=1e-4,
                 mistakes={"the sigmoid is left out": W_TWO @ I_TWO})


def test_three_layer(answer):
    x_hidden = W_IH @ I_THREE
    o_hidden = expit(x_hidden)
    x_output = W_HO @ o_hidden
    o_output = expit(x_output)
    transposed_hidden = expit(W_IH.T @ I_THREE)
    transposed = {"both weight matrices are used transposed": W_HO.T @ transposed_hidden}
    expect_close(answer["X_hidden"], x_hidden, "X_hidden", atol=HAND_ROUNDING, rtol=0,
                 mistakes={"W_ih is used transposed": W_IH.T @ I_THREE})
    expect_close(answer["O_hidden"], o_hidden, "O_hidden", atol=HAND_ROUNDING, rtol=0,
                 mistakes={"W_ih is used transposed": transposed_hidden})
    expect_close(answer["X_output"], x_output, "X_output", atol=HAND_ROUNDING, rtol=0,
                 mistakes={**transposed, "the output layer uses X_hidden instead of O_hidden": W_HO @ x_hidden})
    expect_close(answer["O_output"], o_output, "O_output", atol=HAND_ROUNDING, rtol=0,
                 mistakes={"both weight matrices are used transposed": expit(W_HO.T @ transposed_hidden)})


@pytest.mark.parametrize("part", ["shape_and_spread", "reproducible"])
def test_init_weights(answer, part):
    if part == "shape_and_spread":
        expect_equal(answer["shape"], [300, 400], "shape of init_weights(300, 400, rng)",
                     hint="rows are receiving nodes: (n_out, n_in).")
        # 120,000 draws: the sample mean has a standard error of 0.05/sqrt(120000).
        expect_in_range(answer["mean"], -0.002, 0.002, "mean of 120,000 weights", hint="centre the weights on 0.")
        expect_in_range(answer["std"], 0.0475, 0.0525, "standard deviation of weights with 400 links in",
                        hint="the spread is 1/sqrt(n_in), the number of links INTO a node.")
    else:
        if answer["same_seed_equal"] is not True:
            raise WrongAnswer("two generators with the same seed gave different weights: draw only from `rng`.")
        if answer["other_seed_differs"] is not True:
            raise WrongAnswer("generators with different seeds gave the same weights: are you drawing from `rng`?")


def _reference_query(w_ih, w_ho, inputs):
    return expit(w_ho @ expit(w_ih @ inputs))


@pytest.mark.parametrize("part", ["column", "batch"])
def test_query(answer, part):
    rng = np.random.default_rng(2024)
    w_ih, w_ho = rng.normal(size=(5, 4)), rng.normal(size=(3, 5))
    inputs = {"column": rng.uniform(0.01, 1.0, size=(4, 1))}
    inputs["batch"] = rng.uniform(0.01, 1.0, size=(4, 6))
    expect_close(answer[part], _reference_query(w_ih, w_ho, inputs[part]), f"query on a hidden {part} input",
                 rtol=1e-7, mistakes={"the hidden layer's sigmoid is missing": expit(w_ho @ (w_ih @ inputs[part]))})
