"""Answer key for 04 — The linear-activation network by hand.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded: raw values only. Whether the notebook's W1, W2, b1 and b2 survived
an exercise, or whether ``gradient_step`` changed what it was given, is
decided here from the arrays the cells recorded before and after, never from
a flag the kernel computed.

The values of Problem 1 are recomputed here; ``forward`` and ``backward`` are
judged on hidden networks that this key regenerates from the cells' seeds, the
gradients against central finite differences of E = ½‖x_L − t‖² computed here.

**A mistake costs once.** Each graded cell also records the inputs it worked
from (the student's own earlier results, and the parameters as they were when
it ran). When those differ from the right ones, because an earlier exercise
went wrong, the cell is judged on them as well: a step done right on a wrong
input earns its points, and a wrong one is told that its input came from an
earlier exercise (error carried forward, :func:`autograder.checks.expect_close_carried`).

**Tolerances** accept any floating-point precision (``precision=np.float32``:
at least about 1e-5 of the size of the values); every named mistake differs
by far more (a factor 2, a sign, a missing term).
"""

import numpy as np
import pytest
from scipy.special import expit

from autograder.checks import WrongAnswer, agrees, expect_close, expect_close_carried

W1 = np.array([[2, 3, 4], [2, 1, 2], [3, 5, 1], [2, 3, 4]], dtype=float)
W2 = np.array([[3, 1, 1, 1], [1, 4, 2, 2]], dtype=float)
B1 = np.array([[4], [1], [1], [2]], dtype=float)
B2 = np.array([[2], [3]], dtype=float)
X0 = np.array([[2], [1], [3]], dtype=float)
T = np.array([[4], [5]], dtype=float)
ALPHA = 0.1
# Problem 1's figures are whole numbers, or have one decimal, exactly; the notebook asks for them to three
# decimals. So they are judged to 1e-3 and to nothing looser (ulps=0: no allowance scaled by their size, which
# reaches a few thousand). A float32 computation still fits: it holds whole numbers below 2^24 exactly and a
# figure with one decimal below 8,192 to better than 5e-4.
BY_HAND = dict(rtol=0.0, atol=1e-3, ulps=0)
#: Computed values of any size: float32 rounding, relative to the size of the values.
COMPUTED = dict(rtol=1e-9, atol=1e-12, precision=np.float32)

#: The typical mistake the demo class makes in this assignment (see `course demo`):
#: the 2 of the square kept, although E = 1/2 ||x2 - t||^2 cancels it. Only delta2 is wrong: every
#: later value is judged on the student's own delta2 as well, so the mistake costs once.
#: (tests/test_04_linear_network.py covers the other named mistakes, e.g. delta1 from the updated W2.)
TYPICAL_MISTAKE = {
    "cell": "backward_impl",
    "source": (
        "delta2 = 2 * (x2 - t)   # oops: d/dx of 1/2 (x - t)^2 has no factor 2\n"
        "delta1 = W2.T @ delta2\n"
        "dE_dW2 = delta2 @ x1.T\n"
        "dE_dW1 = delta1 @ x0.T\n"
        "print(delta2.ravel())"
    ),
    "loses": ["backward_by_hand"],
}

UPDATED_W2 = "delta1 is computed with W2 AFTER its update; the backward pass must use the W2 of the forward pass"
FACTOR_2 = "delta2 carries a factor 2: with E = 1/2 ||x2 - t||^2 the 1/2 cancels the 2 of the square"
FLIPPED = "the sign is flipped: delta2 = x2 - t (output minus target), the slope of E"
BIAS_SIGN = "the bias is updated with the wrong sign: b <- b - alpha * delta"
WEIGHT_SIGN = "the weights move uphill: W <- W - alpha * dE/dW (subtract the slope)"
IN_PLACE = ("{name} was changed in place ({name} -= ... or an alias of it): compute the new values into new "
            "variables ({name}_new = {name} - ...) so that {name} keeps its value for the later exercises")


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


# -- error carried forward -------------------------------------------------------------
def _floats(value, shape):
    """*value* as a finite float array of *shape*, or None when it is not one."""
    try:
        value = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return value if value.shape == tuple(shape) and np.all(np.isfinite(value)) else None


def _own(answer, name, shape):
    """The student's own recorded value *name* (of this cell) as floats, or None when it is unusable."""
    return _floats(answer[name], shape) if name in answer else None


def _pick(value, *path):
    """value[path[0]][path[1]]... for recorded lists, or None when the path is not there."""
    for index in path:
        if not isinstance(value, list) or not 0 <= index < len(value):
            return None
        value = value[index]
    return value


def _carried(earlier, right, used=None):
    """What a later step works from: the student's value from an earlier graded cell, *earlier*, when it is
    wrong (so that cell was charged for it) and the later cell really used it (*used*, its own record);
    otherwise *right*.

    Taking the earlier cell's judged value, never only the later cell's own record, means a value changed
    between the cells (say, to make a wrong step look right) earns nothing.
    """
    own = _floats(earlier, np.shape(right))
    if own is None or agrees(own, right, **COMPUTED):
        return right
    if used is not None and not agrees(_floats(used, np.shape(right)), own, **COMPUTED):
        return right
    return own


def _judge(actual, name, truth, mistakes, *, own_inputs=None, right_inputs=None, step=None, own_mistakes=None,
           carried_from="an earlier exercise", **options):
    """expect_close against *truth*; when the student's own inputs differ from the right ones, also against
    ``step(*own_inputs)`` (error carried forward), naming the mistakes ``own_mistakes(*own_inputs)`` makes."""
    carried = None
    if own_inputs is not None and all(v is not None for v in own_inputs) and not all(
            agrees(own, right, **COMPUTED) for own, right in zip(own_inputs, right_inputs)):
        carried = step(*own_inputs)
    if carried is None:
        expect_close(actual, truth, name, mistakes=mistakes, **options)
        return
    expect_close_carried(actual, truth, name, carried=carried, carried_from=carried_from, mistakes=mistakes,
                         carried_mistakes=own_mistakes(*own_inputs) if own_mistakes else {}, **options)


def _kept(answer, name, original):
    """The key's own comparison of a parameter as a later cell found it with its original value."""
    now = answer[f"{name}_now"]
    if not agrees(now, original, **BY_HAND):
        raise WrongAnswer(IN_PLACE.format(name=name) + ".", mistake="parameters-changed-in-place")


# -- Problem 1 by hand ---------------------------------------------------------------
def _half_squared(x2):
    return 0.5 * float(np.sum((x2 - T) ** 2))


def _error_mistakes(x2):
    return {"the 1/2 in E = 1/2 ||x2 - t||^2 is left out": 2 * _half_squared(x2),
            "the squares are not summed over both outputs (only the first output counted)":
                0.5 * (x2[0, 0] - T[0, 0]) ** 2,
            "E is the length ||x2 - t||, not half its square": np.linalg.norm(x2 - T)}


@pytest.mark.parametrize("part", ["x1", "x2", "E"])
def test_forward_by_hand(answer, part):
    x1, x2, _, _ = _problem1()
    if part == "x1":
        expect_close(answer["x1"], x1, "x1", **BY_HAND, mistakes={"the bias b1 is left out": W1 @ X0})
    elif part == "x2":
        _judge(answer["x2"], "x2", x2, {"the bias b2 is left out": W2 @ x1, "both biases are left out": W2 @ (W1 @ X0)},
               own_inputs=[_own(answer, "x1", (4, 1))], right_inputs=[x1], step=lambda own: W2 @ own + B2,
               own_mistakes=lambda own: {"the bias b2 is left out": W2 @ own}, carried_from="your x1", **BY_HAND)
    else:
        _judge(answer["E"], "E", _half_squared(x2), _error_mistakes(x2),
               own_inputs=[_own(answer, "x2", (2, 1))], right_inputs=[x2], step=_half_squared,
               own_mistakes=_error_mistakes, carried_from="your x2", **BY_HAND)


@pytest.mark.parametrize("part", ["delta2", "delta1", "dE_dW2", "dE_dW1"])
def test_backward_by_hand(answer, recorded, part):
    x1, x2, delta2, delta1 = _problem1()
    updated_W2 = W2 - ALPHA * delta2 @ x1.T
    forward_cell = recorded["forward_by_hand"]
    own_x1 = _carried(forward_cell.get("x1"), x1, answer.get("x1_used"))
    own_x2 = _carried(forward_cell.get("x2"), x2, answer.get("x2_used"))
    own_delta2, own_delta1 = _own(answer, "delta2", (2, 1)), _own(answer, "delta1", (4, 1))
    if part == "delta2":
        _judge(answer["delta2"], "delta2", delta2, {FACTOR_2: 2 * delta2, FLIPPED: -delta2},
               own_inputs=[own_x2], right_inputs=[x2], step=lambda x: x - T,
               own_mistakes=lambda x: {FACTOR_2: 2 * (x - T), FLIPPED: T - x}, carried_from="your x2", **BY_HAND)
    elif part == "delta1":
        _judge(answer["delta1"], "delta1", delta1, {UPDATED_W2: updated_W2.T @ delta2, FACTOR_2: 2 * delta1,
                                                    FLIPPED: -delta1},
               own_inputs=[own_delta2, own_x1], right_inputs=[delta2, x1], step=lambda d, x: W2.T @ d,
               own_mistakes=lambda d, x: {UPDATED_W2: (W2 - ALPHA * d @ x.T).T @ d},
               carried_from="your delta2 (and x1)", **BY_HAND)
    elif part == "dE_dW2":
        _judge(answer["dE_dW2"], "dE_dW2", delta2 @ x1.T, {FACTOR_2: 2 * delta2 @ x1.T, FLIPPED: -delta2 @ x1.T},
               own_inputs=[own_delta2, own_x1], right_inputs=[delta2, x1], step=lambda d, x: d @ x.T,
               own_mistakes=lambda d, x: {"dE/dW2 has the factor 2 that E's 1/2 cancels": 2 * d @ x.T},
               carried_from="your delta2 and x1", hint="dE/dW2 = delta2 @ x1.T, a column times a row, shaped like W2.",
               **BY_HAND)
    else:
        _judge(answer["dE_dW1"], "dE_dW1", delta1 @ X0.T, {UPDATED_W2: (updated_W2.T @ delta2) @ X0.T,
                                                           FACTOR_2: 2 * delta1 @ X0.T, FLIPPED: -delta1 @ X0.T},
               own_inputs=[own_delta1], right_inputs=[delta1], step=lambda d: d @ X0.T,
               own_mistakes=lambda d: {"dE/dW1 has the factor 2 that E's 1/2 cancels": 2 * d @ X0.T},
               carried_from="your delta1", hint="dE/dW1 = delta1 @ x0.T, shaped like W1.", **BY_HAND)


def _update_mistakes(original, slope, bias=False):
    if bias:
        return {BIAS_SIGN: original + ALPHA * slope, FACTOR_2: original - 2 * ALPHA * slope}
    return {WEIGHT_SIGN: original + ALPHA * slope, FACTOR_2: original - 2 * ALPHA * slope}


@pytest.mark.parametrize("part", ["W1_new", "W2_new", "b1_new", "b2_new"])
def test_update_by_hand(answer, recorded, part):
    x1, _, delta2, delta1 = _problem1()
    late_delta1 = (W2 - ALPHA * delta2 @ x1.T).T @ delta2
    name = part.removesuffix("_new")
    original, slope_name, shape = {"W1": (W1, "dE_dW1", W1.shape), "W2": (W2, "dE_dW2", W2.shape),
                                   "b1": (B1, "delta1", B1.shape), "b2": (B2, "delta2", B2.shape)}[name]
    right_slope = {"dE_dW1": delta1 @ X0.T, "dE_dW2": delta2 @ x1.T, "delta1": delta1, "delta2": delta2}[slope_name]
    _kept(answer, name, original)
    mistakes = _update_mistakes(original, right_slope, bias=name.startswith("b"))
    if name == "W1":
        mistakes[UPDATED_W2] = W1 - ALPHA * late_delta1 @ X0.T
    elif name == "b1":
        mistakes[UPDATED_W2] = B1 - ALPHA * late_delta1
    _judge(answer[part], part, original - ALPHA * right_slope, mistakes,
           own_inputs=[_carried(recorded["backward_by_hand"].get(slope_name), right_slope,
                                answer.get(f"{slope_name}_used"))], right_inputs=[right_slope],
           step=lambda slope: original - ALPHA * slope,
           own_mistakes=lambda slope: _update_mistakes(original, slope, bias=name.startswith("b")),
           carried_from=f"your {slope_name} (Exercise 2)", **BY_HAND)


def _after(W1_new, W2_new, b1_new, b2_new):
    return half_squared_error([W1_new, W2_new], [b1_new, b2_new], X0, T, linear)


def _after_mistakes(W1_new, W2_new, b1_new, b2_new):
    after = _after(W1_new, W2_new, b1_new, b2_new)
    return {"the 1/2 in E is left out": 2 * after,
            "the error is computed with the OLD parameters": half_squared_error([W1, W2], [B1, B2], X0, T, linear),
            "the forward pass after the step leaves out the biases":
                half_squared_error([W1_new, W2_new], [0 * B1, 0 * B2], X0, T, linear),
            "the forward pass after the step uses the new weights with the OLD biases":
                half_squared_error([W1_new, W2_new], [B1, B2], X0, T, linear),
            "the forward pass after the step uses the new biases with the OLD weights":
                half_squared_error([W1, W2], [b1_new, b2_new], X0, T, linear)}


def test_error_after(answer, recorded):
    x1, _, delta2, delta1 = _problem1()
    right = [W1 - ALPHA * delta1 @ X0.T, W2 - ALPHA * delta2 @ x1.T, B1 - ALPHA * delta1, B2 - ALPHA * delta2]
    mistakes = _after_mistakes(*right)
    mistakes["the step was taken with gradients carrying a factor 2 (see the backward pass)"] = half_squared_error(
        [W1 - 2 * ALPHA * delta1 @ X0.T, W2 - 2 * ALPHA * delta2 @ x1.T],
        [B1 - 2 * ALPHA * delta1, B2 - 2 * ALPHA * delta2], X0, T, linear)
    own = [_carried(recorded["update_by_hand"].get(name), value, answer.get(f"{name}_used"))
           for name, value in zip(["W1_new", "W2_new", "b1_new", "b2_new"], right)]
    # E_after is about 4e11: float32 holds it to about 1e-5 of its size.
    _judge(answer["E_after"], "E_after", _after(*right), mistakes, own_inputs=own, right_inputs=right,
           step=_after, own_mistakes=_after_mistakes, carried_from="your W1_new, W2_new, b1_new and b2_new (Exercise 3)",
           hint="run the forward pass with W1_new, b1_new, W2_new and b2_new.", **COMPUTED)


# -- forward and backward for any network ----------------------------------------------
def _as_list(recorded, length, name):
    if isinstance(recorded, str):
        raise WrongAnswer(f"{name}: your function raised {recorded}")
    if not isinstance(recorded, list) or len(recorded) != length:
        got = f"{len(recorded)} items" if isinstance(recorded, list) else type(recorded).__name__
        raise WrongAnswer(f"{name}: expected a list of {length} arrays, got {got}.")
    return recorded


def _own_parameters(answer, recorded, used="problem1_inputs"):
    """The W1, W2, b1, b2 a cell worked from: as update_by_hand found them when they were changed there
    (in place; that cell is charged for it) and this cell used them (its record *used*), else the right ones."""
    update = recorded["update_by_hand"]
    return [_carried(update.get(f"{name}_now"), right, _pick(answer.get(used), i))
            for i, (name, right) in enumerate(zip(("W1", "W2", "b1", "b2"), (W1, W2, B1, B2)))]


CHANGED_EARLIER = "the W1, W2, b1 and b2 this cell found (an earlier cell changed them)"

FORWARD_SIZES = [[2, 3], [3, 4, 2], [2, 5, 3, 2], [4, 3, 3, 3, 1]]


@pytest.mark.parametrize("part", ["problem1", "sigmoid_networks"])
def test_forward_general(answer, recorded, part):
    if part == "problem1":
        results = _as_list(answer["problem1"], 3, "forward on Problem 1 (2 layers: x_0, x_1, x_2)")
        own = _own_parameters(answer, recorded)
        for i, actual in enumerate(results):
            _judge(actual, f"forward on Problem 1, x_{i}", forward([W1, W2], [B1, B2], X0, linear)[i], {},
                   own_inputs=own, right_inputs=[W1, W2, B1, B2],
                   step=lambda w1, w2, b1, b2: forward([w1, w2], [b1, b2], X0, linear)[i],
                   carried_from=CHANGED_EARLIER, **COMPUTED)
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
            # Sigmoid outputs lie in (0, 1): float32 holds them to about 1e-7; a missing activation is O(1) off.
            expect_close(actual, wanted, f"forward on a hidden {layers}-layer sigmoid network, x_{i}", **COMPUTED,
                         mistakes={"the activation function is not applied": no_activation[i]})


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


#: Gradients: central differences (h = 1e-6) are good to about 1e-9 here; float32 to about 1e-5 of the
#: largest gradient; a missing f'(z) (at most 1/4 for the sigmoid) or a factor 2 is far larger.
GRADIENTS = dict(rtol=2e-5, atol=1e-8, precision=np.float32)


def _judge_gradients(recorded, expected, mistakes, title, carried=None, carried_mistakes=None,
                     carried_from="your forward (its activations are wrong)"):
    """recorded = [grads_W, grads_b]; expected likewise; mistakes: description -> (grads_W, grads_b).

    *carried*: the right gradients for the student's own (wrong) activations, when their forward is wrong.
    """
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
            name = f"{title}, dE/d{label}_{i + 1}"
            named = {d: m[which][i] for d, m in mistakes.items()}
            if carried is None:
                expect_close(grads[i], expected[which][i], name, mistakes=named, **GRADIENTS)
            else:
                expect_close_carried(grads[i], expected[which][i], name, carried=carried[which][i],
                                     carried_from=carried_from, mistakes=named,
                                     carried_mistakes={d: m[which][i] for d, m in (carried_mistakes or {}).items()},
                                     **GRADIENTS)


def _doubled(grads):
    return [2 * g for g in grads[0]], [2 * g for g in grads[1]]


def _forward_general_is_wrong(recorded) -> bool:
    """Did the student's forward fail its own graded cell (so its activations may be carried forward)?"""
    cell = recorded["forward_general"]
    expected = {"problem1": [forward([W1, W2], [B1, B2], X0, linear)]}
    rng = np.random.default_rng(405)
    expected["sigmoid_networks"] = [forward(*_random_network(rng, sizes), expit) for sizes in FORWARD_SIZES]
    for name, networks in expected.items():
        got = cell.get(name)
        if name == "problem1":
            got = [got]
        for n, wanted in enumerate(networks):
            for i, value in enumerate(wanted):
                own = _floats(_pick(got, n, i), value.shape)
                if own is None or not agrees(own, value, **COMPUTED):
                    return True
    return False


def _own_activations(answer, recorded, name, right):
    """The activations the student's forward gave backward_general, when forward itself was judged wrong."""
    used = answer.get(f"{name}_activations")
    if not isinstance(used, list) or len(used) != len(right) or not _forward_general_is_wrong(recorded):
        return None
    own = [_floats(value, wanted.shape) for value, wanted in zip(used, right)]
    if any(value is None for value in own) or all(agrees(a, b, **COMPUTED) for a, b in zip(own, right)):
        return None
    return own


@pytest.mark.parametrize("part", ["problem1"] + [name for name, *_ in BACKWARD_CASES])
def test_backward_general(answer, recorded, part):
    if part == "problem1":
        activations = forward([W1, W2], [B1, B2], X0, linear)
        expected = backward([W1, W2], [B1, B2], activations, T, linear_derivative)
        carried, carried_from = None, CHANGED_EARLIER
        own = _own_parameters(answer, recorded)
        if all(v is not None for v in own) and not all(agrees(a, b, **COMPUTED) for a, b in zip(own, [W1, W2, B1, B2])):
            weights, biases = own[:2], own[2:]
            carried = backward(weights, biases, forward(weights, biases, X0, linear), T, linear_derivative)
        else:
            acts = _own_activations(answer, recorded, "problem1", activations)
            if acts is not None:
                carried, carried_from = backward([W1, W2], [B1, B2], acts, T, linear_derivative), \
                    "your forward (its activations for Problem 1 are wrong)"
        _judge_gradients(answer["problem1"], expected, {FACTOR_2: _doubled(expected)}, "backward on Problem 1",
                         carried=carried, carried_mistakes={FACTOR_2: _doubled(carried)} if carried else None,
                         carried_from=carried_from)
        return
    weights, biases, x, target, activation, derivative = _hidden_backward_networks()[part]
    expected = finite_differences(weights, biases, x, target, activation)
    activations = forward(weights, biases, x, activation)

    def mistakes_for(acts):
        reference = backward(weights, biases, acts, target, derivative)
        return {
            "the derivative is taken at the layer's OUTPUT x_i instead of its sums z_i":
                backward(weights, biases, acts, target, derivative, at_outputs=True),
            "the derivative factor f'(z) is missing": backward(weights, biases, acts, target, derivative,
                                                               use_derivative=False),
            "the gradients have a factor 2 (E = 1/2 ||x_L - t||^2: the 1/2 cancels it)": _doubled(reference),
        }

    own = _own_activations(answer, recorded, part, activations)
    layers = len(weights)
    _judge_gradients(answer[part], expected, mistakes_for(activations),
                     f"backward on a hidden {layers}-layer {part.split('_')[0]} network (finite differences)",
                     carried=backward(weights, biases, own, target, derivative) if own else None,
                     carried_mistakes=mistakes_for(own) if own else None)


def test_gradient_step(answer, recorded):
    x1, _, delta2, delta1 = _problem1()
    given = _as_list(answer["given"], 4, "the parameters gradient_step was given")
    after = _as_list(answer["given_after"], 4, "the parameters gradient_step was given, after the call")
    if any(np.shape(a) != np.shape(b) or not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(given, after)):
        raise WrongAnswer("gradient_step changed the weights or biases it was given: build new arrays "
                          "(W - lr * g) instead of updating in place (W -= ...).", mistake="gradient-step-in-place")
    right_params = [W1, W2, B1, B2]
    right_grads = [delta1 @ X0.T, delta2 @ x1.T, delta1, delta2]
    own_params = _own_parameters(answer, recorded, used="given")
    # The gradients come from the student's backward, judged (on Problem 1) in backward_general.
    judged = recorded["backward_general"].get("problem1")
    own_grads = [_carried(_pick(judged, k // 2, k % 2), right_grads[k], _pick(answer.get("grads_used"), k))
                 for k in range(4)]
    new = (_as_list(answer["new_weights"], 2, "gradient_step's new weights for Problem 1")
           + _as_list(answer["new_biases"], 2, "gradient_step's new biases for Problem 1"))
    for i, label in enumerate(["W1", "W2", "b1", "b2"]):
        sign = BIAS_SIGN if label.startswith("b") else WEIGHT_SIGN
        _judge(new[i], f"gradient_step on Problem 1, {label}", right_params[i] - ALPHA * right_grads[i],
               {sign: right_params[i] + ALPHA * right_grads[i]},
               own_inputs=[own_params[i], own_grads[i]], right_inputs=[right_params[i], right_grads[i]],
               step=lambda p, g: p - ALPHA * g, own_mistakes=lambda p, g: {sign: p + ALPHA * g},
               carried_from="the parameters and gradients it was given (from your earlier cells)", **BY_HAND)
