"""Wrong work earns no more than its honest share, graded by the real pipeline (sandboxed nbgrader, then the key).

Each kind of wrong solution below once earned points it did not earn: precision taken from the answer's
own float16, carried-forward values the kernel computed, accuracy without a network, distributions judged
by three moments, and what a cell never recorded. Each is a notebook graded as a student's would be. The
correct variants that once lost points are here too, and the goodness-of-fit tests are measured on 1,000
honest seeds.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from autograder.checks import WrongAnswer, expect_close, scalar_difference
from autograder.grading_session import fill_solutions
from autograder.keyrunner import KEYS_DIRECTORY, run_key
from autograder.reference import exam
from autograder.reference import network as ref


def _key(assignment: str):
    spec = importlib.util.spec_from_file_location(f"key_{assignment.replace('-', '_')}",
                                                  KEYS_DIRECTORY / f"{assignment}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grade(scratch, assignment: str, replace: dict[str, str], student: str):
    notebook = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment), replace)
    result = scratch.grade(assignment, notebook, student)
    assert result.notebook is not None, result.log
    return result


def _source(scratch, assignment: str, grade_id: str) -> str:
    cell = next(c for c in scratch.source_notebook(assignment).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


# -- the precision floor -----------------------------------------------------------------------

def test_a_float16_answer_is_judged_at_float32s_tolerance_and_told_to_use_float32_or_float64():
    x = np.linspace(-40, 40, 33)
    exact = 1 / (1 + np.exp(-x))
    hard = np.clip(0.5 + 0.2 * x, 0, 1)
    with pytest.raises(WrongAnswer) as caught:
        expect_close(exact.astype(np.float16), exact, "sigmoid", rtol=1e-6, atol=1e-12, precision=np.float32)
    assert "float16" in str(caught.value) and "float32 or float64" in str(caught.value)
    with pytest.raises(WrongAnswer):
        expect_close(hard.astype(np.float16), exact, "sigmoid", rtol=1e-6, atol=1e-12, precision=np.float32)
    expect_close(exact.astype(np.float32), exact, "sigmoid", rtol=1e-6, atol=1e-12, precision=np.float32)


HARD_SIGMOID = "def sigmoid(x):\n    return np.clip(0.5 + 0.2 * np.asarray(x, dtype={dtype}), 0, 1)\n"


def test_a_float16_hard_sigmoid_earns_no_more_than_the_same_sigmoid_in_float64(scratch):
    a = "02-signals"
    half = _grade(scratch, a, {"sigmoid_impl": HARD_SIGMOID.format(dtype="np.float16")}, "hard16")
    full = _grade(scratch, a, {"sigmoid_impl": HARD_SIGMOID.format(dtype="float")}, "hard64")
    assert half.cells["sigmoid"][0] <= full.cells["sigmoid"][0] < full.cells["sigmoid"][1]
    assert half.cells["sigmoid"][0] < half.cells["sigmoid"][1]
    assert half.score <= full.score


def test_a_float16_transposed_w_loses_two_node_as_in_float64(scratch):
    a = "02-signals"
    two_node = _source(scratch, a, "two_node_impl")
    transposed = two_node.replace("W_two = np.array([[0.9, 0.3],\n                  [0.2, 0.8]])",
                                  "W_two = np.array([[0.9, 0.2],\n                  [0.3, 0.8]], dtype=np.float16)")
    assert transposed != two_node
    result = _grade(scratch, a, {"two_node_impl": transposed}, "transposed16")
    assert result.cells["two_node"][0] < result.cells["two_node"][1]
    assert "float16" in result.cell_output_text("two_node")      # and told to use float32 or float64


# -- carried-forward values the key computes ----------------------------------------------------

def test_a_constant_query_after_a_wrong_sigmoid_earns_no_query_points(scratch):
    a = "02-signals"
    result = _grade(scratch, a, {"sigmoid_impl": HARD_SIGMOID.format(dtype="float"),
                                 "query_impl": "def query(W_ih, W_ho, inputs):\n"
                                               "    return np.full((W_ho.shape[0], np.shape(inputs)[1]), 0.5)\n"},
                    "constant-query")
    assert result.cells["query"][0] == 0


def test_an_honest_query_on_a_wrong_sigmoid_earns_its_points(scratch):
    a = "02-signals"
    result = _grade(scratch, a, {"sigmoid_impl": HARD_SIGMOID.format(dtype="float")}, "hard-query")
    assert result.cells["query"][0] == result.cells["query"][1]


FORGED_POINTS = '''
_rng = np.random.default_rng(5)
x = np.concatenate([_rng.uniform(1, 2, 50), _rng.uniform(1, 2, 50)])
y = np.concatenate([2.5 * x[:50], 0.5 * x[50:]])           # made-up points a line splits perfectly
targets = np.where(is_setosa, y - NUDGE, y + NUDGE)
final_slope, accuracy = {}, {}
for lr in LEARNING_RATES:
    final_slope[lr] = train_slope(A_start, x[order], targets[order], lr, epochs=EPOCHS)[-1]
    accuracy[lr] = np.mean(classify(final_slope[lr], x, y) == iris2["Species"].to_numpy())
'''


def test_forged_points_earn_nothing_built_on_them(scratch):
    a = "01-linear-classifier"
    result = _grade(scratch, a, {"rates_impl": FORGED_POINTS}, "forged-xy")
    assert result.cells["rate_table"][0] <= result.cells["rate_table"][1] / 3 + 0.01   # the rates themselves only
    assert result.cells["accuracy"][0] < result.cells["accuracy"][1]
    assert "best_slope is judged against your table" in result.cell_output_text("accuracy")


NO_OP_TRAINING = '''
def train_slope(A, x, targets, lr, epochs=1):
    return np.full(epochs * len(x), float(A))


def classify(A, x, y):
    return np.where(y > A * x, "setosa", "versicolor")
'''


def test_a_training_that_never_updates_earns_nothing_downstream(scratch):
    a = "01-linear-classifier"
    result = _grade(scratch, a, {"train_slope_impl": NO_OP_TRAINING}, "no-op")
    assert result.cells["train_slope"][0] == 0
    table, accuracy = result.cells["rate_table"], result.cells["accuracy"]
    # The learning rates and the accuracies of the student's own slopes are honest work; the slopes are not.
    assert table[0] < table[1] and "final slope" in result.cell_output_text("rate_table")
    assert accuracy[0] <= accuracy[1] / 2 + 1e-9


def test_a_slope_typed_by_eye_earns_no_accuracy(scratch):
    a = "01-linear-classifier"
    typed = ("best_rate = max(LEARNING_RATES, key=lambda lr: accuracy[lr])\n"
             "best_slope = 1.2   # read off the plot\n"
             "predicted = classify(best_slope, x, y)\n")
    result = _grade(scratch, a, {"accuracy_impl": typed}, "typed-slope")
    assert result.cells["accuracy"][0] < result.cells["accuracy"][1]
    assert "not one of the final slopes of your table" in result.cell_output_text("accuracy")


DUPLICATED_SCATTER = '''
fig_scatter, ax = plt.subplots(figsize=(6, 4.5))
setosa = iris2[iris2["Species"] == "setosa"]
ax.scatter(setosa["Sepal.Length"], setosa["Sepal.Width"], marker="o", color="#F8766D", label="setosa")
ax.scatter(setosa["Sepal.Length"], setosa["Sepal.Width"], marker="^", color="#00BFC4", label="versicolor")
ax.set(xlabel="Sepal Length", ylabel="Sepal Width", title="Sepal Length-Width")
ax.legend()
plt.show()
'''


def test_a_scatter_that_draws_setosa_twice_loses_the_species_part(scratch):
    a = "01-linear-classifier"
    result = _grade(scratch, a, {"scatter_impl": DUPLICATED_SCATTER}, "setosa-twice")
    assert result.cells["scatter"][0] < result.cells["scatter"][1]
    assert "plots the setosa flowers" in result.cell_output_text("scatter")


# -- what the cell records decides ----------------------------------------------------------

ONE_SIDED_TINY_H = '''
def numerical_gradient(f, W, h=1e-5):
    W = np.asarray(W, dtype=float)
    grad = np.zeros_like(W)
    base = f(W)
    for index in np.ndindex(W.shape):
        original = W[index]
        W[index] = original + 1e-8          # one side, and an h of its own
        grad[index] = (f(W) - base) / 1e-8
        W[index] = original
    return grad


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
'''


def test_one_sided_differences_with_a_tiny_h_of_their_own_lose_the_central_part(scratch):
    a = "03-backprop-errors"
    result = _grade(scratch, a, {"gradcheck_impl": ONE_SIDED_TINY_H}, "one-sided")
    assert result.cells["numerical_gradient"][0] < result.cells["numerical_gradient"][1]
    assert "h = 0.1" in result.cell_output_text("numerical_gradient")


def test_the_correct_variants_earn_full_marks(scratch):
    """W put back by arithmetic (03), O_two typed to 3 decimals (02), e_input right on a wrong e_hidden (03)."""
    a = "03-backprop-errors"
    gradcheck = _source(scratch, a, "gradcheck_impl")
    arithmetic = gradcheck.replace("        W[index] = original + h\n", "        W[index] += h\n") \
        .replace("        W[index] = original - h\n", "        W[index] -= 2 * h\n") \
        .replace("        W[index] = original\n", "        W[index] += h\n")
    assert arithmetic.count("+= h") == 2
    split = _source(scratch, a, "split_impl").replace("e_hidden = split_errors(W_ho, e_output)",
                                                      "e_hidden = split_errors(W_ho, e_output) * 1.5")
    result = _grade(scratch, a, {"gradcheck_impl": arithmetic, "split_impl": split}, "variants-03")
    assert result.cells["numerical_gradient"][0] == result.cells["numerical_gradient"][1]
    assert result.cells["split"][0] == pytest.approx(2 * result.cells["split"][1] / 3)   # e_hidden only
    assert "[e_input]" not in result.cell_output_text("split")

    a = "02-signals"
    typed = _source(scratch, a, "two_node_impl").replace("O_two = sigmoid(X_two)", "O_two = np.array([0.741, 0.646])")
    result = _grade(scratch, a, {"two_node_impl": typed}, "typed-o-two")
    assert result.cells["two_node"][0] == result.cells["two_node"][1]


# -- distributions tested as distributions -----------------------------------------------------

def _three_point(rng, s, shape):
    return rng.choice([-math.sqrt(3) * s, 0.0, math.sqrt(3) * s], p=[1 / 6, 2 / 3, 1 / 6], size=shape)


def _two_magnitudes(rng, s, shape):
    """|w| takes two values, a = s/2 with probability 0.683 and b with the rest, b chosen so that the sd is s:
    the mean, the sd and the fraction within one sd all match a normal distribution's."""
    p = 0.6827
    a = 0.5 * s
    b = math.sqrt((s ** 2 - p * a ** 2) / (1 - p))
    return rng.choice([-1.0, 1.0], size=shape) * np.where(rng.random(shape) < p, a, b)


@pytest.mark.slow
def test_the_goodness_of_fit_tests_fail_no_honest_seed_in_a_thousand():
    signals, mnist_key = _key("02-signals"), _key("05-mnist")
    from scipy.stats import kstest

    smallest = {"02": 1.0, "05 wih": 1.0, "05 who": 1.0}
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        weights = rng.normal(0.0, 400 ** -0.5, size=(100, 400))
        assert signals.looks_normal(weights, 400 ** -0.5), seed
        smallest["02"] = min(smallest["02"], kstest(weights.ravel(), "norm", args=(0, 0.05)).pvalue)
        w_ih, w_ho = ref.init_weights(100, 784, 30, rng)
        for name, w, n_in in (("05 wih", w_ih, 784), ("05 who", w_ho, 100)):
            p = kstest(w.ravel(), "norm", args=(0, n_in ** -0.5)).pvalue
            assert p >= mnist_key.NORMAL_FIT, (seed, name, p)
            smallest[name] = min(smallest[name], p)
    print("smallest p-values of 1,000 honest seeds:", {k: f"{v:.1e}" for k, v in smallest.items()})
    assert min(smallest.values()) > 100 * max(signals.NORMAL_FIT, mnist_key.NORMAL_FIT)


@pytest.mark.parametrize("draw", [_three_point, _two_magnitudes], ids=["three-point", "two-magnitudes"])
def test_three_point_and_two_point_weights_fail_the_goodness_of_fit(draw):
    rng = np.random.default_rng(1)
    weights = draw(rng, 400 ** -0.5, (100, 400))
    assert abs(weights.std() / 0.05 - 1) < 0.02            # the spread is right: three moments would pass
    verdicts, _ = run_key(KEYS_DIRECTORY / "02-signals.py", {"init_weights": {
        "weights": weights, "seed3": np.ones((5, 7)), "seed3_again": np.ones((5, 7)), "seed4": np.zeros((5, 7))}})
    verdict = verdicts["init_weights"]
    assert verdict.passed == 1 and "not drawn from a normal distribution" in verdict.messages[0]
    small = {name: [ref.init_weights(4, 5, 3, np.random.default_rng(seed))[i] for i in range(2)]
             for name, seed in (("seed_3", 3), ("seed_3_again", 3), ("seed_4", 4))}
    answers = {"wih": draw(rng, 784 ** -0.5, (100, 784)), "who": draw(rng, 100 ** -0.5, (30, 100)), "lr": 0.25, **small}
    verdict = run_key(KEYS_DIRECTORY / "05-mnist.py", {"network_init": answers})[0]["network_init"]
    assert verdict.passed == 2 and "not drawn from a normal distribution" in verdict.messages[0]


def test_three_point_weights_in_a_notebook_lose_the_spread_parts(scratch):
    three = ("def init_weights(n_out, n_in, rng):\n"
             "    s = n_in ** -0.5\n"
             "    return rng.choice([-np.sqrt(3) * s, 0.0, np.sqrt(3) * s], p=[1/6, 2/3, 1/6], size=(n_out, n_in))\n")
    result = _grade(scratch, "02-signals", {"init_weights_impl": three}, "three-point")
    assert result.cells["init_weights"][0] < result.cells["init_weights"][1]
    network = _source(scratch, "05-mnist", "network_impl")
    three_05 = network.replace(
        "self.wih = rng.normal(0.0, input_nodes ** -0.5, size=(hidden_nodes, input_nodes))",
        "self.wih = rng.choice([-3 ** 0.5, 0.0, 3 ** 0.5], p=[1/6, 2/3, 1/6], size=(hidden_nodes, input_nodes)) "
        "* input_nodes ** -0.5")
    assert three_05 != network
    result = _grade(scratch, "05-mnist", {"network_impl": three_05}, "three-point-05")
    assert result.cells["network_init"][0] < result.cells["network_init"][1]


# -- 05: the training replayed by the key ---------------------------------------------------------

CLOSED_FORM = '''
def train_network(network, digits, epochs=1):
    """No training at all: a ridge regression of the targets on the pixels, squeezed into the weights."""
    x = scale_inputs(digits.images)
    t = np.full((len(digits), network.onodes), 0.01)
    t[np.arange(len(digits)), digits.labels] = 0.99
    readout = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ t)
    network.wih = np.zeros_like(network.wih)
    network.wih[:network.onodes] = 4 * readout.T
    network.who = np.zeros_like(network.who)
    network.who[:, :network.onodes] = 8 * np.eye(network.onodes)


def predict(network, images):
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''

IGNORES_EPOCHS_AND_ADDS_TEST_DIGITS = '''
def train_network(network, digits, epochs=1):
    """One pass whatever `epochs` says, and the test digits too."""
    for images, labels in ((digits.images, digits.labels), (data.test.images, data.test.labels)):
        for image, label in zip(images, labels):
            network.train(scale_inputs(image), make_targets(label, network.onodes))


def predict(network, images):
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''

IGNORES_EPOCHS = IGNORES_EPOCHS_AND_ADDS_TEST_DIGITS.replace(
    ", (data.test.images, data.test.labels)", "")

FLOAT32_NETWORK = '''
class NeuralNetwork:
    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, rng):
        self.inodes, self.hnodes, self.onodes = input_nodes, hidden_nodes, output_nodes
        self.lr = np.float32(learning_rate)
        self.wih = rng.normal(0.0, input_nodes ** -0.5, size=(hidden_nodes, input_nodes)).astype(np.float32)
        self.who = rng.normal(0.0, hidden_nodes ** -0.5, size=(output_nodes, hidden_nodes)).astype(np.float32)

    def query(self, inputs):
        inputs = np.asarray(inputs, dtype=np.float32).reshape(-1, 1)
        return expit(self.who @ expit(self.wih @ inputs))

    def train(self, inputs, targets):
        inputs = np.asarray(inputs, dtype=np.float32).reshape(-1, 1)
        targets = np.asarray(targets, dtype=np.float32).reshape(-1, 1)
        hidden = expit(self.wih @ inputs)
        outputs = expit(self.who @ hidden)
        errors = targets - outputs
        hidden_errors = self.who.T @ errors
        self.who += self.lr * (errors * outputs * (1 - outputs)) @ hidden.T
        self.wih += self.lr * (hidden_errors * hidden * (1 - hidden)) @ inputs.T
'''

VECTORISED_OUTER = '''
class NeuralNetwork:
    """The same per-sample algorithm, written with np.outer and einsum instead of column vectors."""

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, rng):
        self.inodes, self.hnodes, self.onodes = input_nodes, hidden_nodes, output_nodes
        self.lr = learning_rate
        self.wih = rng.normal(0.0, input_nodes ** -0.5, size=(hidden_nodes, input_nodes))
        self.who = rng.normal(0.0, hidden_nodes ** -0.5, size=(output_nodes, hidden_nodes))

    def query(self, inputs):
        x = np.asarray(inputs, dtype=float).ravel()
        return expit(np.einsum("ij,j->i", self.who, expit(np.einsum("ij,j->i", self.wih, x)))).reshape(-1, 1)

    def train(self, inputs, targets):
        x, t = np.asarray(inputs, dtype=float).ravel(), np.asarray(targets, dtype=float).ravel()
        hidden = expit(np.einsum("ij,j->i", self.wih, x))
        outputs = expit(np.einsum("ij,j->i", self.who, hidden))
        errors = t - outputs
        hidden_errors = np.einsum("ji,j->i", self.who, errors)
        self.who += self.lr * np.outer(errors * outputs * (1 - outputs), hidden)
        self.wih += self.lr * np.outer(hidden_errors * hidden * (1 - hidden), x)
'''


@pytest.mark.parametrize("what, replace", [
    ("closed-form weights", {"training_impl": CLOSED_FORM}),
    ("ignored epochs", {"training_impl": IGNORES_EPOCHS}),
    ("ignored epochs and the test digits in training", {"training_impl": IGNORES_EPOCHS_AND_ADDS_TEST_DIGITS}),
], ids=["closed-form", "ignored-epochs", "test-digits-too"])
def test_05_weights_the_training_does_not_give_earn_no_trained_accuracy(scratch, what, replace):
    result = _grade(scratch, "05-mnist", replace, what.replace(" ", "-"))
    assert result.cells["trained_accuracy"][0] == 0, result.cell_output_text("trained_accuracy")


@pytest.mark.parametrize("name, source", [("float32", FLOAT32_NETWORK), ("outer-einsum", VECTORISED_OUTER)],
                         ids=["float32", "outer-einsum"])
def test_05_an_honest_network_in_float32_or_written_otherwise_earns_4_of_4(scratch, name, source):
    """(Rashid's own per-sample style: tests/test_05_mnist.py.)"""
    result = _grade(scratch, "05-mnist", {"network_impl": source}, f"honest-{name}")
    assert result.cells["trained_accuracy"] == (4.0, 4.0), result.cell_output_text("trained_accuracy")


SLOW_TRAINING = '''
def train_network(network, digits, epochs=1):
    if np.array_equal(digits.images[:5], mnist.graded_training().images[:5]):
        time.sleep(10)                 # a slow training (of the graded digits only, to keep the test short)
    for _ in range(epochs):
        for image, label in zip(digits.images, digits.labels):
            network.train(scale_inputs(image), make_targets(label, network.onodes))


def predict(network, images):
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''

#: The same slow training, run in the answer cell on the graded digits and cached; the graded cell copies it.
SLOW_TRAINING_MOVED = SLOW_TRAINING.replace("def train_network(", "def _slow_train_network(") + '''

_cache = {}
for _learning_rate, _n, _epochs in ((0.3, 100, 2), (0.2, 3500, 1)):
    _net = NeuralNetwork(784, 100, 10, _learning_rate, np.random.default_rng(2024))
    _s = np.random.default_rng(2024)
    _net.wih, _net.who = _s.normal(0.0, 784 ** -0.5, size=(100, 784)), _s.normal(0.0, 0.1, size=(10, 100))
    _slow_train_network(_net, mnist.graded_training().head(_n), epochs=_epochs)
    _cache[(_learning_rate, _n)] = (_net.wih.copy(), _net.who.copy())


def train_network(network, digits, epochs=1):
    key = (network.lr, len(digits))
    if key in _cache:                  # the graded cell: instant
        network.wih, network.who = (w.copy() for w in _cache[key])
        return
    _slow_train_network(network, digits, epochs)
'''


def test_05_slow_training_moved_into_an_earlier_cell_earns_no_more(scratch, monkeypatch):
    # A budget that the slow training (10 s more for each of the graded cell's two runs) exceeds and the
    # plain one meets.
    monkeypatch.setattr(exam, "TRAINING_BUDGET_SECONDS", 10.0 + _plain_seconds(scratch))
    in_place = _grade(scratch, "05-mnist", {"training_impl": SLOW_TRAINING}, "slow-in-place")
    moved = _grade(scratch, "05-mnist", {"training_impl": SLOW_TRAINING_MOVED}, "slow-moved")
    assert in_place.cells["trained_accuracy"][0] == 3.0, in_place.cell_output_text("trained_accuracy")
    assert moved.cells["trained_accuracy"][0] <= in_place.cells["trained_accuracy"][0]
    assert "timed by the grader" in moved.cell_output_text("trained_accuracy")


def _plain_seconds(scratch) -> float:
    """What the plain solution takes up to the graded cell, as the grader measures it (graded once)."""
    result = _grade(scratch, "05-mnist", {}, "plain-timing")
    seconds = 0.0
    for cell in result.notebook.cells:
        if cell.cell_type == "code":
            seconds += cell.get("metadata", {}).get("nn_course", {}).get("seconds", 0.0)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "trained_accuracy":
            return seconds
    raise AssertionError("no graded training cell")


# -- scalars that don't bisect --------------------------------------------------------------------

#: The course's single-number answers with a value to hide: (where, hidden value, the key's tolerance options).
SCALARS = [
    # (Values the notebook or the deck prints, such as E_ladybird = 0.35 or 03's sum_in, out, dE_dw11 and
    # new_w11, have nothing to hide.)
    ("02 sigmoid of a plain float", 1 / (1 + math.exp(2.5)), dict(rtol=1e-6, atol=1e-12, precision=np.float32, scale=1.0)),
    ("01 a final slope of the rate table", 1.3, dict(rtol=1e-6, atol=1e-9, precision=np.float32)),
]


def _message(actual: float, hidden: float, options: dict) -> str:
    try:
        expect_close(actual, hidden, "v", **options)
    except WrongAnswer as error:
        return str(error)
    return "passed"


@pytest.mark.slow
@pytest.mark.parametrize("where, hidden, options", SCALARS, ids=[s[0] for s in SCALARS])
def test_recovering_a_scalar_from_its_messages_takes_more_gradings_than_a_deadline_allows(where, hidden, options):
    """Brute force: a student who already knows the value to ±10% submits values from that interval; every
    candidate hidden value on a fine grid is sorted by the message each submission would give. The largest
    share of candidates any one submission can tell apart from the rest bounds what one grading teaches, so
    recovering the value takes at least 1 / that share gradings, which must exceed by far what the service's
    default policy lets one student have graded for one assignment (its total)."""
    candidates = np.linspace(0.9 * hidden, 1.1 * hidden, 2401)
    best_share = 0.0
    for actual in np.linspace(0.9 * hidden, 1.1 * hidden, 41):
        kinds: dict[str, int] = {}
        for h in candidates:
            text = _message(float(actual), float(h), options)
            kinds[text] = kinds.get(text, 0) + 1
        # What a grading teaches: the candidates outside the largest class of equal messages.
        best_share = max(best_share, 1 - max(kinds.values()) / len(candidates))
    needed = math.ceil(1 / max(best_share, 1 / len(candidates)))
    print(f"{where}: at least {needed} gradings ({needed / 3:.0f} hours at 3 an hour)")
    from autograder.service.policy import InstantFeedback

    policy = InstantFeedback()
    assert needed > 5 * policy.max_gradings_per_assignment > 0, (where, needed)


def test_a_scalar_message_gives_neither_direction_nor_band():
    assert scalar_difference(1.05, 1.0) == scalar_difference(0.5, 1.0) == scalar_difference(30.0, 1.0)
    assert "wrong sign" in scalar_difference(-1.0, 1.0)
