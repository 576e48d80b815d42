"""Answer key for 03 — Errors flowing backwards.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. Hidden inputs are regenerated here from the seeds the cells use;
slopes are judged against central finite differences computed here, so a
formula that only fits the worked example fails.

Conventions (COURSE.md §03): ``dE_dw_output`` and ``dE_dw_hidden`` return the
EXACT slope of E = Σ(t − o)² (factor 2 kept); the hand-worked update and
``weight_update`` use the deck's convention, the 2 absorbed into the rate.
"""

import numpy as np
import pytest
from scipy.special import expit as sigmoid

from autograder.checks import WrongAnswer, agrees, expect_close, expect_close_carried, precision_of

# The worked examples of the deck.
W_HO = np.array([[2.0, 3.0], [1.0, 4.0]])
E_OUTPUT = np.array([0.8, 0.5])
W_IH = np.array([[3.0, 2.0], [1.0, 7.0]])
# Tolerances, each from what its check is about:
# - HAND_ROUNDING: the book prints 0.909, -0.0497, 2.005, 0.362, ...: typed-in numbers may be rounded so.
HAND_ROUNDING = 1.5e-3
# - FORMULA: a few products and sums; every algebraically equal form agrees to a few units in the last
#   place, and float32 is a legitimate choice: rtol 1e-6, loosened to float32 (autograder.checks.tolerances).
FORMULA = {"rtol": 1e-6, "atol": 1e-12, "precision": np.float32}
# - SLOPE: compared with central differences (h = 1e-6) computed here, whose own error is about 1e-10:
#   five significant digits, float32 accepted.
SLOPE = {"rtol": 1e-5, "atol": 1e-8, "precision": np.float32}

#: The typical mistake the demo class makes in this assignment (see `course demo`).
TYPICAL_MISTAKE = {
    "cell": "matrix_impl",
    "source": (
        "def backpropagate_errors(W, e_next):\n"
        "    return np.asarray(W) @ np.asarray(e_next)   # oops: W instead of W^T\n"
        "\n"
        "e_hidden_matrix = backpropagate_errors(W_ho, e_output)\n"
        "print(e_hidden_matrix)"
    ),
    "loses": ["matrix"],
}

TRANSPOSED = "the weight matrix is used without transposing it (errors flow back through W^T, not W)"
FACTOR_2_MISSING = ("the factor 2 is absorbed into the learning rate. That is the deck's convention, but this "
                    "function must return the EXACT slope of E = sum((t - o)^2), factor 2 included")
FACTOR_2_EXTRA = ("the factor 2 is kept. This part uses the deck's convention, where the 2 is absorbed "
                  "into the learning rate")
NO_SLOPE = "the sigmoid's slope o(1 - o) is missing"


# -- reference numerics ---------------------------------------------------------
def split_errors(W, e_next):
    W = np.asarray(W, dtype=float)
    return (W / W.sum(axis=1, keepdims=True)).T @ np.asarray(e_next, dtype=float)


def numerical_gradient(f, W, h=1e-6):
    W = np.array(W, dtype=float)
    grad = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        original = W[index]
        W[index] = original + h
        above = f(W)
        W[index] = original - h
        below = f(W)
        W[index] = original
        grad[index] = (above - below) / (2 * h)
    return grad


def forward_differences(f, W, h):
    W = np.array(W, dtype=float)
    grad = np.zeros_like(W)
    base = f(W)
    for index in np.ndindex(W.shape):
        original = W[index]
        W[index] = original + h
        grad[index] = (f(W) - base) / h
        W[index] = original
    return grad


def _each_with(recorded, expected, name, mistakes, **tolerances):
    if not isinstance(recorded, list) or len(recorded) != len(expected):
        raise WrongAnswer(f"{name}: expected {len(expected)} results, got {type(recorded).__name__}.")
    for number, (actual, wanted) in enumerate(zip(recorded, expected)):
        if isinstance(actual, str):
            raise WrongAnswer(f"{name}, hidden case {number + 1}: your function raised {actual}")
        expect_close(actual, wanted, f"{name}, hidden case {number + 1}",
                     mistakes={d: v[number] for d, v in mistakes.items()}, **tolerances)


# -- 1. splitting errors ------------------------------------------------------------
@pytest.mark.parametrize("part", ["hidden_cases", "example", "e_input"])
def test_split(answer, part):
    if part == "hidden_cases":
        rng = np.random.default_rng(301)
        cases = [(rng.uniform(0.1, 5.0, size=shape), rng.uniform(-1.0, 1.0, size=shape[0]))
                 for shape in [(2, 2), (3, 4), (5, 2)]]
        _each_with(answer["hidden_cases"], [split_errors(W, e) for W, e in cases], "split_errors", {
            "each share is normalised by the links LEAVING a node instead of the links entering the receiving node":
                [(W.T @ e) / W.sum(axis=0) for W, e in cases],
            "the errors are sent back through W^T without normalising": [W.T @ e for W, e in cases],
        }, **FORMULA, hint="row k of W holds the links into node k; divide each row by its own sum.")
    elif part == "example":
        expect_close(answer["e_hidden"], split_errors(W_HO, E_OUTPUT), "e_hidden", rtol=0, atol=HAND_ROUNDING,
                     mistakes={"W_ho is typed transposed": split_errors(W_HO.T, E_OUTPUT),
                               "the normalising denominators are dropped": W_HO.T @ E_OUTPUT})
        expect_close(answer["W_ih"], W_IH, "W_ih", rtol=0, atol=HAND_ROUNDING, ulps=0,
                     mistakes={"W_ih is typed transposed (rows are receiving nodes)": W_IH.T})
    else:
        # Error carried forward, in a part of its own: e_input is also judged on the student's own e_hidden
        # and W_ih (as this cell recorded them) when those are wrong, so a mistake there is charged once.
        e_hidden = split_errors(W_HO, E_OUTPUT)
        hand = {"rtol": 0.0, "atol": HAND_ROUNDING}
        own_e, own_w = np.asarray(answer["e_hidden"], dtype=float), np.asarray(answer["W_ih"], dtype=float)
        carried = None
        if own_e.shape == (2,) and own_w.shape == (2, 2) and not (agrees(own_e, e_hidden, **hand)
                                                                 and agrees(own_w, W_IH, **hand)):
            carried = split_errors(own_w, own_e)
        expect_close_carried(answer["e_input"], split_errors(W_IH, e_hidden), "e_input", **hand, carried=carried,
                             carried_from="your e_hidden and W_ih",
                             mistakes={"the output errors are split instead of the hidden errors": split_errors(W_IH, E_OUTPUT),
                                       "W_ih is used transposed": split_errors(W_IH.T, e_hidden)})


# -- 2. W^T e -------------------------------------------------------------------------
@pytest.mark.parametrize("part", ["hidden_cases", "example"])
def test_matrix(answer, part):
    if part == "hidden_cases":
        rng = np.random.default_rng(302)
        cases = [(rng.normal(size=shape), rng.normal(size=shape[0])) for shape in [(2, 3), (4, 4), (1, 5)]]
        _each_with(answer["hidden_cases"], [W.T @ e for W, e in cases], "backpropagate_errors",
                   {TRANSPOSED: [W @ e if W.shape[0] == W.shape[1] else np.full(W.shape[1], np.nan) for W, e in cases]},
                   **FORMULA, hint="W has one row per receiving node; W^T has one row per sending node.")
    else:
        expect_close(answer["e_hidden_matrix"], W_HO.T @ E_OUTPUT, "e_hidden_matrix", rtol=0, atol=HAND_ROUNDING,
                     mistakes={TRANSPOSED: W_HO @ E_OUTPUT,
                               "the errors are normalised as in section 1": split_errors(W_HO, E_OUTPUT)})


# -- 3. and 4. slopes against finite differences -----------------------------------------
def _output_cases():
    rng = np.random.default_rng(303)
    cases = []
    for n_hidden, n_out in [(3, 2), (4, 4), (2, 3)]:
        W = rng.normal(size=(n_out, n_hidden))
        o_hidden = rng.uniform(0.01, 0.99, size=(n_hidden, 1))
        t = rng.uniform(0.01, 0.99, size=(n_out, 1))
        cases.append((W, o_hidden, t))
    return cases


def test_dE_dw_output(answer):
    cases = _output_cases()
    expected, half, no_slope, flipped = [], [], [], []
    for W, o_hidden, t in cases:
        error = lambda M: float(np.sum((t - sigmoid(M @ o_hidden)) ** 2))
        numeric = numerical_gradient(error, W)
        o = sigmoid(W @ o_hidden)
        expected.append(numeric)
        half.append(numeric / 2)
        no_slope.append(-2 * (t - o) @ o_hidden.T)
        flipped.append(-numeric)
    _each_with(answer["slopes"], expected, "dE_dw_output compared with finite differences of E", {
        FACTOR_2_MISSING: half,
        NO_SLOPE: no_slope,
        "the sign is flipped: (t - o) has slope -1 with respect to o, which gives the leading minus": flipped,
    }, **SLOPE)


def _hidden_cases():
    rng = np.random.default_rng(304)
    cases = []
    for n_in, n_hidden, n_out in [(3, 4, 2), (2, 3, 3)]:
        W_ih = rng.normal(size=(n_hidden, n_in))
        W_ho = rng.normal(size=(n_out, n_hidden))
        x = rng.uniform(0.01, 0.99, size=(n_in, 1))
        t = rng.uniform(0.01, 0.99, size=(n_out, 1))
        cases.append((W_ih, W_ho, x, t))
    return cases


def test_dE_dw_hidden(answer):
    expected, half, no_slope = [], [], []
    for W_ih, W_ho, x, t in _hidden_cases():
        error = lambda M: float(np.sum((t - sigmoid(W_ho @ sigmoid(M @ x))) ** 2))
        numeric = numerical_gradient(error, W_ih)
        h = sigmoid(W_ih @ x)
        o = sigmoid(W_ho @ h)
        expected.append(numeric)
        half.append(numeric / 2)
        no_slope.append(-2 * (W_ho.T @ ((t - o) * o * (1 - o))) @ x.T)
    _each_with(answer["slopes"], expected, "dE_dw_hidden compared with finite differences of E", {
        FACTOR_2_MISSING: half,
        "the hidden nodes' sigmoid slope o_hidden(1 - o_hidden) is missing": no_slope,
    }, **SLOPE)


# -- 5. one update by hand -----------------------------------------------------------------
def _own(answer, name):
    """The student's own recorded number, or None when it is not one finite number."""
    try:
        value = np.asarray(answer[name], dtype=float)
    except (TypeError, ValueError, WrongAnswer):
        return None
    return float(value) if value.shape == () and np.isfinite(value) else None


@pytest.mark.parametrize("part", ["sum_in", "out", "dE_dw11", "new_w11"])
def test_update_by_hand(answer, part):
    # Hand arithmetic: tolerances fit numbers typed as the book prints them (4 decimals; the slope to 5).
    # Error carried forward: each step is also judged on the student's own previous step when that one
    # is wrong, so one slip costs one part.
    sum_in = 2.0 * 0.4 + 3.0 * 0.5
    out = sigmoid(sum_in)
    slope = out * (1 - out)
    dE_dw11 = -1.5 * slope * 0.4
    if part == "sum_in":
        expect_close(answer["sum_in"], sum_in, "sum_in", rtol=0, atol=1e-4,
                     mistakes={"the weights are paired with the wrong hidden outputs": 2.0 * 0.5 + 3.0 * 0.4})
    elif part == "out":
        own = _own(answer, "sum_in")
        carried = sigmoid(own) if own is not None and not agrees(own, sum_in, rtol=0, atol=1e-4) else None
        expect_close_carried(answer["out"], out, "out", rtol=0, atol=5e-4, carried=carried, carried_from="your sum_in",
                             mistakes={"the sigmoid's slope is given instead of its value": slope})
    elif part == "dE_dw11":
        own = _own(answer, "out")
        carried = -1.5 * own * (1 - own) * 0.4 if own is not None and not agrees(own, out, rtol=0, atol=5e-4) else None
        expect_close_carried(answer["dE_dw11"], dE_dw11, "dE_dw11", rtol=0, atol=6e-5, carried=carried,
                             carried_from="your out", mistakes={
                                 FACTOR_2_EXTRA: 2 * dE_dw11,
                                 NO_SLOPE: -1.5 * 0.4,
                                 "the leading minus sign is missing": -dE_dw11,
                                 "the signal of the other link (0.5) is used": -1.5 * slope * 0.5,
                             })
    else:
        own = _own(answer, "dE_dw11")
        carried = 2.0 - 0.1 * own if own is not None and not agrees(own, dE_dw11, rtol=0, atol=6e-5) else None
        expect_close_carried(answer["new_w11"], 2.0 - 0.1 * dE_dw11, "new_w11", rtol=0, atol=5e-4, carried=carried,
                             carried_from="your dE_dw11", mistakes={
                                 "the slope is added instead of subtracted: the weight moves uphill": 2.0 + 0.1 * dE_dw11,
                                 FACTOR_2_EXTRA: 2.0 - 0.2 * dE_dw11,
                                 NO_SLOPE: 2.0 + 0.1 * 1.5 * 0.4,
                             },
                             carried_mistakes={} if own is None else {
                                 "the slope is added instead of subtracted: the weight moves uphill": 2.0 + 0.1 * own})


# -- 6. the matrix update --------------------------------------------------------------------
def _update_cases():
    rng = np.random.default_rng(306)
    cases = []
    for n_prev, n, batch in [(3, 2, 1), (4, 3, 1), (2, 2, 5)]:
        W = rng.normal(size=(n, n_prev))
        prev = rng.uniform(0.01, 0.99, size=(n_prev, batch))
        t = rng.uniform(0.01, 0.99, size=(n, batch))
        cases.append((W, prev, t))
    return cases


@pytest.mark.parametrize("part", ["example", "finite_differences"])
def test_weight_update(answer, part):
    if part == "example":
        o = sigmoid(2.3)
        change = 0.1 * (1.5 * o * (1 - o)) * np.array([[0.4, 0.5]])
        expect_close(answer["example"], change, "weight_update on the example of Exercise 5", **FORMULA,
                     mistakes={"the change has the wrong sign (it must be ADDED to W)": -change,
                               FACTOR_2_EXTRA: 2 * change,
                               NO_SLOPE: 0.1 * 1.5 * np.array([[0.4, 0.5]])})
        return
    expected, flipped, doubled, no_slope = [], [], [], []
    for W, prev, t in _update_cases():
        half_error = lambda M: 0.5 * float(np.sum((t - sigmoid(M @ prev)) ** 2))
        change = -0.3 * numerical_gradient(half_error, W)
        o = sigmoid(W @ prev)
        expected.append(change)
        flipped.append(-change)
        doubled.append(2 * change)
        no_slope.append(0.3 * (t - o) @ prev.T)
    _each_with(answer["changes"], expected, "weight_update against -lr * finite differences of 1/2 sum((t - o)^2)", {
        "the change has the wrong sign (it must be ADDED to W)": flipped,
        FACTOR_2_EXTRA: doubled,
        NO_SLOPE: no_slope,
    }, **SLOPE)


# -- 7. gradient checking -----------------------------------------------------------------------
def _float64_needed(recorded, name) -> None:
    """A gradient recorded in float32 that misses: say that finite differences need float64."""
    if precision_of(recorded).itemsize < 8:
        raise WrongAnswer(f"{name}: it was computed in {precision_of(recorded)}; a central difference divides by "
                          "a small 2h, so compute it in float64 (NumPy's default), as the exercise says.")


@pytest.mark.parametrize("part", ["central", "unchanged", "sigmoid_layer"])
def test_numerical_gradient(answer, part):
    # Central differences with h = 1e-3 on a smooth function: their own error is about 1e-7 relative, so
    # five significant digits, in float64 (the notebook says so: float32 cannot resolve f(W + h) - f(W - h)).
    rng = np.random.default_rng(307)
    W = rng.normal(size=(3, 4))
    A = rng.normal(size=(2, 3))
    x = rng.uniform(0.01, 0.99, size=(3, 1))
    t = rng.uniform(0.01, 0.99, size=(2, 1))
    if part == "central":
        wavy = lambda M: float(np.sum(np.sin(M) * M ** 2))
        exact = np.cos(W) * W ** 2 + 2 * W * np.sin(W)
        if not agrees(answer["wavy"], exact, rtol=1e-5, atol=2e-6):
            _float64_needed(answer["wavy"], "numerical_gradient of sum(sin(W) * W**2)")
        expect_close(answer["wavy"], exact, "numerical_gradient of sum(sin(W) * W**2) with h = 1e-3", rtol=1e-5, atol=2e-6,
                     mistakes={"one-sided (forward) differences are used instead of central ones":
                               forward_differences(wavy, W, 1e-3),
                               "the difference is divided by h instead of 2h": 2 * exact},
                     hint="use (f(W + h) - f(W - h)) / (2h), and the h you are given.")
        # A second h: the key computes the central difference at h = 0.1 itself. At that h it differs from the
        # slope by about 1e-3, and one-sided differences by about 5e-2: a numerical_gradient that ignores the h
        # it is given, or differences one side only with a tiny h of its own, shows here.
        coarse = numerical_gradient(wavy, W, 0.1)
        expect_close(answer["wavy_coarse"], coarse, "numerical_gradient of sum(sin(W) * W**2) with h = 0.1",
                     rtol=1e-6, atol=1e-9, mistakes={
                         "one-sided (forward) differences are used instead of central ones":
                             forward_differences(wavy, W, 0.1),
                         "the h you are given is not used (this is the slope itself, not the central difference "
                         "at h = 0.1)": exact},
                     hint="use (f(W + h) - f(W - h)) / (2h) with the h you are given.")
    elif part == "unchanged":
        # Raw values: the cell records W after the call; the key regenerates W before it and compares. Putting
        # an entry back by arithmetic (+= h, -= 2h, += h) may leave a few units in its last place: that is put
        # back too. 1e-12 of the entries' size allows hundreds of such units, and is far below any h.
        after = np.asarray(answer["W_after"], dtype=float)
        if after.shape != W.shape or not agrees(after, W, rtol=0.0, atol=1e-12 * float(np.abs(W).max()), ulps=0):
            raise WrongAnswer("numerical_gradient left W changed after it returned: put each entry back "
                              "(save the original value and reassign it), or work on a copy.")
    else:
        o = sigmoid(A @ x)
        expected = -2 * ((t - o) * o * (1 - o)) @ x.T
        if not agrees(answer["layer"], expected, rtol=1e-5, atol=1e-8):
            _float64_needed(answer["layer"], "numerical_gradient of a sigmoid layer's error")
        expect_close(answer["layer"], expected, "numerical_gradient of a sigmoid layer's error (default h)",
                     rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("part", ["values", "zeros"])
def test_relative_error(answer, part):
    # A relative error is read on its own scale, 0 to 1, against thresholds like 1e-7 and 1e-3: agreement
    # to float32's precision on that scale (about 1e-5 absolute), in either precision.
    if part == "zeros":
        try:
            zero = np.asarray(answer["zeros"], dtype=float)
        except (TypeError, ValueError):
            zero = np.array(np.nan)
        if zero.shape != () or zero != 0.0:
            raise WrongAnswer("relative_error of two all-zero arrays must be 0.0 (avoid dividing 0 by 0).")
        return
    rng = np.random.default_rng(308)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    pairs = [(a, b), (b, a), (a, 2 * a), (a, a + 1e-6 * b), (a.ravel(), -3 * a.ravel()), (5.0, 4.0)]
    norm = np.linalg.norm
    expected = [norm(np.subtract(p, q)) / (norm(p) + norm(q)) for p, q in pairs]
    expect_close(answer["values"], expected, "relative_error on six hidden pairs", **FORMULA, scale=1.0, mistakes={
        "the difference is not divided by the sizes (an absolute error)": [norm(np.subtract(p, q)) for p, q in pairs],
        "only the size of the first array is used in the denominator": [norm(np.subtract(p, q)) / norm(p) for p, q in pairs],
        "the denominator is max(||a||, ||b||) instead of ||a|| + ||b||":
            [norm(np.subtract(p, q)) / max(norm(p), norm(q)) for p, q in pairs],
    }, hint="||a - b|| / (||a|| + ||b||), with np.linalg.norm over all entries.")
