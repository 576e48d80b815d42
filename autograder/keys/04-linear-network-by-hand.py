"""Answer key for 04 — The linear-activation network by hand.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. The values of Problem 1 are recomputed here; ``forward`` and
``backward`` are judged on hidden networks that this key regenerates from the
cells' seeds, the gradients against central finite differences of
E = ½‖x_L − t‖² computed here.
"""

import numpy as np
import pytest
from scipy.special import expit

from autograder.checks import WrongAnswer, expect_close

W1 = np.array([[2, 3, 4], [2, 1, 2], [3, 5, 1], [2, 3, 4]], dtype=float)
W2 = np.array([[3, 1, 1, 1], [1, 4, 2, 2]], dtype=float)
B1 = np.array([[4], [1], [1], [2]], dtype=float)
B2 = np.array([[2], [3]], dtype=float)
X0 = np.array([[2], [1], [3]], dtype=float)
T = np.array([[4], [5]], dtype=float)
ALPHA = 0.1
# Problem 1's figures are exact, or hand-rounded to one decimal.
BY_HAND = dict(rtol=1e-7, atol=1e-3)

#: The typical mistake the demo class makes in this assignment (see `course demo`):
#: the 2 of the square kept, although E = 1/2 ||x2 - t||^2 cancels it. Every value
#: downstream doubles its step, so these cells lose all their points. (tests/
#: test_04_linear_network.py covers the other named mistakes, e.g. delta1 from the updated W2.)
TYPICAL_MISTAKE = {
    "cell": "backward_impl",
    "source": (
        "delta2 = 2 * (x2 - t)   # oops: d/dx of 1/2 (x - t)^2 has no factor 2\n"
        "delta1 = W2.T @ delta2\n"
        "dE_dW2 = delta2 @ x1.T\n"
        "dE_dW1 = delta1 @ x0.T\n"
        "print(delta2.ravel())"
    ),
    "loses": ["backward_by_hand", "update_by_hand", "error_after"],
}

UPDATED_W2 = "delta1 is computed with W2 AFTER its update; the backward pass must use the W2 of the forward pass"
FACTOR_2 = "delta2 carries a factor 2: with E = 1/2 ||x2 - t||^2 the 1/2 cancels the 2 of the square"
FLIPPED = "the sign is flipped: delta2 = x2 - t (output minus target), the slope of E"
BIAS_SIGN = "the bias is updated with the wrong sign: b <- b - alpha * delta"
WEIGHT_SIGN = "the weights move uphill: W <- W - alpha * dE/dW (subtract the slope)"


# -- reference numerics -----------------------------------------------------------
def forward(weights, biases, x, activation):
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(activation(W @ activations[-1] + b))
    return activations


def backward(weights, biases, activations, target, derivative, *, at_outputs=False, use_derivative=True):
    """Reference backward pass; the keyword switches reproduce typical mistakes."""
    L = len(weights)
    grads_W, grads_b = [None] * L, [None] * L

    def slope(i):
        if not use_derivative:
            return 1.0
        z = activations[i + 1] if at_outputs else weights[i] @ activations[i] + biases[i]
        return derivative(z)

    delta = (activations[-1] - target) * slope(L - 1)
    for i in reversed(range(L)):
        grads_W[i] = delta @ activations[i].T
        grads_b[i] = delta
        if i > 0:
            delta = (weights[i].T @ delta) * slope(i - 1)
    return grads_W, grads_b


def half_squared_error(weights, biases, x, target, activation):
    return 0.5 * float(np.sum((forward(weights, biases, x, activation)[-1] - target) ** 2))


def finite_differences(weights, biases, x, target, activation, h=1e-6):
    """Central differences of E for every entry of every weight matrix and bias."""
    weights = [np.array(W, dtype=float) for W in weights]
    biases = [np.array(b, dtype=float) for b in biases]
    grads = []
    for array in weights + biases:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + h
            above = half_squared_error(weights, biases, x, target, activation)
            array[index] = original - h
            below = half_squared_error(weights, biases, x, target, activation)
            array[index] = original
            grad[index] = (above - below) / (2 * h)
        grads.append(grad)
    return grads[:len(weights)], grads[len(weights):]


def linear(z):
    return z


def linear_derivative(z):
    return np.ones_like(z)


def sigmoid_derivative(z):
    s = expit(z)
    return s * (1 - s)


def tanh_derivative(z):
    return 1.0 - np.tanh(z) ** 2


def _problem1():
    x1 = W1 @ X0 + B1
    x2 = W2 @ x1 + B2
    delta2 = x2 - T
    delta1 = W2.T @ delta2
    return x1, x2, delta2, delta1


def _random_network(rng, sizes):
    """The same draws, in the same order, as the graded cells' hidden blocks."""
    weights = [rng.normal(size=(m, n)) for n, m in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=(m, 1)) for m in sizes[1:]]
    x = rng.uniform(-1.0, 1.0, size=(sizes[0], 1))
    return weights, biases, x


# -- Problem 1 by hand ---------------------------------------------------------------
@pytest.mark.parametrize("part", ["x1", "x2", "E"])
def test_forward_by_hand(answer, part):
    x1, x2, _, _ = _problem1()
    if part == "x1":
        expect_close(answer["x1"], x1, "x1", **BY_HAND, mistakes={"the bias b1 is left out": W1 @ X0})
    elif part == "x2":
        expect_close(answer["x2"], x2, "x2", **BY_HAND, mistakes={
            "the bias b2 is left out": W2 @ x1, "both biases are left out": W2 @ (W1 @ X0)})
    else:
        error = 0.5 * np.sum((x2 - T) ** 2)
        expect_close(answer["E"], error, "E", **BY_HAND, mistakes={
            "the 1/2 in E = 1/2 ||x2 - t||^2 is left out": 2 * error,
            "the squares are not summed over both outputs (only the first output counted)": 0.5 * (x2[0, 0] - T[0, 0]) ** 2,
            "E is the length ||x2 - t||, not half its square": np.linalg.norm(x2 - T)})


@pytest.mark.parametrize("part", ["delta2", "delta1", "dE_dW2", "dE_dW1"])
def test_backward_by_hand(answer, part):
    x1, x2, delta2, delta1 = _problem1()
    updated_W2 = W2 - ALPHA * delta2 @ x1.T
    if part == "delta2":
        expect_close(answer["delta2"], delta2, "delta2", **BY_HAND, mistakes={FACTOR_2: 2 * delta2, FLIPPED: -delta2})
    elif part == "delta1":
        expect_close(answer["delta1"], delta1, "delta1", **BY_HAND, mistakes={
            UPDATED_W2: updated_W2.T @ delta2, FACTOR_2: 2 * delta1, FLIPPED: -delta1})
    elif part == "dE_dW2":
        expect_close(answer["dE_dW2"], delta2 @ x1.T, "dE_dW2", **BY_HAND,
                     mistakes={FACTOR_2: 2 * delta2 @ x1.T, FLIPPED: -delta2 @ x1.T},
                     hint="dE/dW2 = delta2 @ x1.T, a column times a row, shaped like W2.")
    else:
        expect_close(answer["dE_dW1"], delta1 @ X0.T, "dE_dW1", **BY_HAND, mistakes={
            UPDATED_W2: (updated_W2.T @ delta2) @ X0.T, FACTOR_2: 2 * delta1 @ X0.T, FLIPPED: -delta1 @ X0.T},
            hint="dE/dW1 = delta1 @ x0.T, shaped like W1.")


@pytest.mark.parametrize("part", ["W1_new", "W2_new", "b1_new", "b2_new"])
def test_update_by_hand(answer, part):
    x1, _, delta2, delta1 = _problem1()
    updated_W2 = W2 - ALPHA * delta2 @ x1.T
    late_delta1 = updated_W2.T @ delta2
    if answer["originals_kept"] is not True:
        raise WrongAnswer("W1, W2, b1 or b2 were changed: compute the new values into new variables "
                          "(W1_new = W1 - ...), not in place (W1 -= ...).")
    if part == "W1_new":
        expect_close(answer["W1_new"], W1 - ALPHA * delta1 @ X0.T, "W1_new", **BY_HAND, mistakes={
            UPDATED_W2: W1 - ALPHA * late_delta1 @ X0.T, WEIGHT_SIGN: W1 + ALPHA * delta1 @ X0.T,
            FACTOR_2: W1 - 2 * ALPHA * delta1 @ X0.T})
    elif part == "W2_new":
        expect_close(answer["W2_new"], updated_W2, "W2_new", **BY_HAND, mistakes={
            WEIGHT_SIGN: W2 + ALPHA * delta2 @ x1.T, FACTOR_2: W2 - 2 * ALPHA * delta2 @ x1.T})
    elif part == "b1_new":
        expect_close(answer["b1_new"], B1 - ALPHA * delta1, "b1_new", **BY_HAND, mistakes={
            BIAS_SIGN: B1 + ALPHA * delta1, UPDATED_W2: B1 - ALPHA * late_delta1, FACTOR_2: B1 - 2 * ALPHA * delta1})
    else:
        expect_close(answer["b2_new"], B2 - ALPHA * delta2, "b2_new", **BY_HAND, mistakes={
            BIAS_SIGN: B2 + ALPHA * delta2, FACTOR_2: B2 - 2 * ALPHA * delta2})


def test_error_after(answer):
    x1, _, delta2, delta1 = _problem1()
    new_W1, new_W2 = W1 - ALPHA * delta1 @ X0.T, W2 - ALPHA * delta2 @ x1.T
    new_b1, new_b2 = B1 - ALPHA * delta1, B2 - ALPHA * delta2
    after = half_squared_error([new_W1, new_W2], [new_b1, new_b2], X0, T, linear)
    doubled_step = half_squared_error([W1 - 2 * ALPHA * delta1 @ X0.T, W2 - 2 * ALPHA * delta2 @ x1.T],
                                      [B1 - 2 * ALPHA * delta1, B2 - 2 * ALPHA * delta2], X0, T, linear)
    expect_close(answer["E_after"], after, "E_after", rtol=1e-6, atol=1e-3, mistakes={
        "the 1/2 in E is left out": 2 * after,
        "the step was taken with gradients carrying a factor 2 (see the backward pass)": doubled_step,
        "the error is computed with the OLD parameters": half_squared_error([W1, W2], [B1, B2], X0, T, linear)},
        hint="run the forward pass with W1_new, b1_new, W2_new and b2_new.")


# -- forward and backward for any network ----------------------------------------------
def _as_list(recorded, length, name):
    if isinstance(recorded, str):
        raise WrongAnswer(f"{name}: your function raised {recorded}")
    if not isinstance(recorded, list) or len(recorded) != length:
        got = f"{len(recorded)} items" if isinstance(recorded, list) else type(recorded).__name__
        raise WrongAnswer(f"{name}: expected a list of {length} arrays, got {got}.")
    return recorded


FORWARD_SIZES = [[2, 3], [3, 4, 2], [2, 5, 3, 2], [4, 3, 3, 3, 1]]


@pytest.mark.parametrize("part", ["problem1", "sigmoid_networks"])
def test_forward_general(answer, part):
    if part == "problem1":
        expected = forward([W1, W2], [B1, B2], X0, linear)
        recorded = _as_list(answer["problem1"], 3, "forward on Problem 1 (2 layers: x_0, x_1, x_2)")
        for i, (actual, wanted) in enumerate(zip(recorded, expected)):
            expect_close(actual, wanted, f"forward on Problem 1, x_{i}", rtol=1e-9, atol=1e-9)
        return
    rng = np.random.default_rng(405)
    networks = _as_list(answer["sigmoid_networks"], len(FORWARD_SIZES), "forward on hidden sigmoid networks")
    for sizes, recorded in zip(FORWARD_SIZES, networks):
        weights, biases, x = _random_network(rng, sizes)
        layers = len(sizes) - 1
        expected = forward(weights, biases, x, expit)
        recorded = _as_list(recorded, layers + 1, f"forward on a hidden {layers}-layer network "
                                                  f"(x_0 to x_{layers}, input included)")
        no_activation = forward(weights, biases, x, linear)
        for i, (actual, wanted) in enumerate(zip(recorded, expected)):
            expect_close(actual, wanted, f"forward on a hidden {layers}-layer sigmoid network, x_{i}",
                         rtol=1e-9, atol=1e-12, mistakes={"the activation function is not applied": no_activation[i]})


BACKWARD_CASES = [("sigmoid_1_layer", [3, 2], expit, sigmoid_derivative),
                  ("sigmoid_2_layers", [3, 4, 2], expit, sigmoid_derivative),
                  ("sigmoid_3_layers", [2, 5, 3, 2], expit, sigmoid_derivative),
                  ("sigmoid_4_layers", [4, 3, 3, 3, 1], expit, sigmoid_derivative),
                  ("tanh_3_layers", [3, 4, 4, 2], np.tanh, tanh_derivative)]


def _hidden_backward_networks():
    rng = np.random.default_rng(406)
    networks = {}
    for name, sizes, activation, derivative in BACKWARD_CASES:
        weights, biases, x = _random_network(rng, sizes)
        target = rng.uniform(0.05, 0.95, size=(sizes[-1], 1))
        networks[name] = (weights, biases, x, target, activation, derivative)
    return networks


def _judge_gradients(recorded, expected, mistakes, title):
    """recorded = [grads_W, grads_b]; expected likewise; mistakes: description -> (grads_W, grads_b)."""
    if isinstance(recorded, str):
        raise WrongAnswer(f"{title}: backward raised {recorded}")
    if not isinstance(recorded, list) or len(recorded) != 2:
        raise WrongAnswer(f"{title}: backward must return two lists, (grads_W, grads_b).")
    layers = len(expected[0])
    for which, label in [(0, "W"), (1, "b")]:
        grads = recorded[which]
        if not isinstance(grads, list) or len(grads) != layers:
            count = len(grads) if isinstance(grads, list) else type(grads).__name__
            raise WrongAnswer(f"{title}: grads_{label} has {count} entries for a network with {layers} layers. "
                              "Loop over all the layers instead of writing out a fixed number.")
        for i in range(layers):
            expect_close(grads[i], expected[which][i], f"{title}, dE/d{label}_{i + 1}", rtol=2e-5, atol=1e-8,
                         mistakes={d: m[which][i] for d, m in mistakes.items()})


@pytest.mark.parametrize("part", ["problem1"] + [name for name, *_ in BACKWARD_CASES])
def test_backward_general(answer, part):
    if part == "problem1":
        activations = forward([W1, W2], [B1, B2], X0, linear)
        expected = backward([W1, W2], [B1, B2], activations, T, linear_derivative)
        doubled = ([2 * g for g in expected[0]], [2 * g for g in expected[1]])
        _judge_gradients(answer["problem1"], expected, {FACTOR_2: doubled}, "backward on Problem 1")
        return
    weights, biases, x, target, activation, derivative = _hidden_backward_networks()[part]
    expected = finite_differences(weights, biases, x, target, activation)
    activations = forward(weights, biases, x, activation)
    mistakes = {
        "the derivative is taken at the layer's OUTPUT x_i instead of its sums z_i":
            backward(weights, biases, activations, target, derivative, at_outputs=True),
        "the derivative factor f'(z) is missing": backward(weights, biases, activations, target, derivative,
                                                           use_derivative=False),
    }
    reference = backward(weights, biases, activations, target, derivative)
    mistakes["the gradients have a factor 2 (E = 1/2 ||x_L - t||^2: the 1/2 cancels it)"] = (
        [2 * g for g in reference[0]], [2 * g for g in reference[1]])
    layers = len(weights)
    _judge_gradients(answer[part], expected, mistakes,
                     f"backward on a hidden {layers}-layer {part.split('_')[0]} network (finite differences)")


def test_gradient_step(answer):
    x1, _, delta2, delta1 = _problem1()
    if answer["inputs_kept"] is not True:
        raise WrongAnswer("gradient_step changed the weights or biases it was given: build new arrays "
                          "(W - lr * g) instead of updating in place (W -= ...).")
    expected_W = [W1 - ALPHA * delta1 @ X0.T, W2 - ALPHA * delta2 @ x1.T]
    expected_b = [B1 - ALPHA * delta1, B2 - ALPHA * delta2]
    new_weights = _as_list(answer["new_weights"], 2, "gradient_step's new weights for Problem 1")
    new_biases = _as_list(answer["new_biases"], 2, "gradient_step's new biases for Problem 1")
    for i in range(2):
        expect_close(new_weights[i], expected_W[i], f"gradient_step on Problem 1, W{i + 1}", **BY_HAND,
                     mistakes={WEIGHT_SIGN: 2 * [W1, W2][i] - expected_W[i]})
        expect_close(new_biases[i], expected_b[i], f"gradient_step on Problem 1, b{i + 1}", **BY_HAND,
                     mistakes={BIAS_SIGN: 2 * [B1, B2][i] - expected_b[i]})
