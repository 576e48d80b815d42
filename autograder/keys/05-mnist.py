"""Answer key for 05 — A network that reads handwriting.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. Hidden inputs are regenerated here from the cells' seeds; expected
values come from :mod:`autograder.reference.network`, and the labels of the
held-back digits from :mod:`autograder.reference.exam`, both in the grader's
process only.
"""

import numpy as np
import pytest
from scipy.special import expit

from autograder.checks import WrongAnswer, expect_close, expect_equal, expect_in_range, expect_shape
from autograder.reference import network as ref
from autograder.reference.exam import exam_labels

#: The typical mistake the demo class makes in this assignment (see `course demo`).
TYPICAL_MISTAKE = {
    "cell": "network_impl",
    "source": (
        "class NeuralNetwork:\n"
        "    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, rng):\n"
        "        self.inodes, self.hnodes, self.onodes = input_nodes, hidden_nodes, output_nodes\n"
        "        self.lr = learning_rate\n"
        "        self.wih = rng.normal(0.0, input_nodes ** -0.5, size=(hidden_nodes, input_nodes))\n"
        "        self.who = rng.normal(0.0, hidden_nodes ** -0.5, size=(output_nodes, hidden_nodes))\n"
        "\n"
        "    def query(self, inputs):\n"
        "        inputs = np.asarray(inputs, dtype=float).reshape(-1, 1)\n"
        "        return expit(self.who @ expit(self.wih @ inputs))\n"
        "\n"
        "    def train(self, inputs, targets):\n"
        "        inputs = np.asarray(inputs, dtype=float).reshape(-1, 1)\n"
        "        targets = np.asarray(targets, dtype=float).reshape(-1, 1)\n"
        "        hidden = expit(self.wih @ inputs)\n"
        "        outputs = expit(self.who @ hidden)\n"
        "        errors = targets - outputs\n"
        "        self.who += self.lr * (errors * outputs * (1 - outputs)) @ hidden.T\n"
        "        hidden_errors = self.who.T @ errors   # oops: uses the weights just updated\n"
        "        self.wih += self.lr * (hidden_errors * hidden * (1 - hidden)) @ inputs.T\n"
    ),
    "loses": ["network_train"],
}

# The graded training run: budget a plain per-example loop meets many times over.
TRAINING_BUDGET_SECONDS = 30.0


def _scale(pixels):
    return np.asarray(pixels, dtype=float) / 255.0 * 0.99 + 0.01


def test_scale_inputs(answer):
    rng = np.random.default_rng(501)
    pixels = rng.integers(0, 256, size=(3, 784)).astype(np.uint8)
    expect_close(answer["ends"], [0.01, 1.0], "scale_inputs of 0 and 255", rtol=1e-9,
                 mistakes={"the 0.01 offset is missing": [0.0, 0.99],
                           "the pixels are divided by 255 only": [0.0, 1.0],
                           "the pixels are divided by 256": [0.01, 255 / 256 * 0.99 + 0.01]},
                 hint="0 must become 0.01 and 255 must become 1.00.")
    expect_close(answer["batch"], _scale(pixels), "scale_inputs on a hidden 3×784 array of pixels", rtol=1e-9,
                 hint="convert the pixels to floats, then apply x / 255 * 0.99 + 0.01 elementwise.")


@pytest.mark.parametrize("part", ["ten_digits", "other_length"])
def test_make_targets(answer, part):
    if part == "ten_digits":
        expected = np.full((10, 10), 0.01) + 0.98 * np.eye(10)
        expect_close(answer["all_digits"], expected, "make_targets(label) for the labels 0 to 9",
                     mistakes={"the targets are 0 and 1 (a sigmoid never reaches them)": np.eye(10),
                               "0.99 and 0.01 are swapped": 1.0 - expected})
    else:
        expect_close(answer["three_classes"], [0.01, 0.01, 0.99], "make_targets(2, n=3)",
                     hint="the length is n, and the label picks the entry that gets 0.99.")


@pytest.mark.parametrize("part", ["shapes", "spread", "reproducible"])
def test_network_init(answer, part):
    if part == "shapes":
        expect_equal(answer["wih_shape"], [400, 784], "shape of wih for NeuralNetwork(784, 400, 30, ...)",
                     hint="rows are the receiving nodes: (hidden_nodes, input_nodes).")
        expect_equal(answer["who_shape"], [30, 400], "shape of who for NeuralNetwork(784, 400, 30, ...)",
                     hint="rows are the receiving nodes: (output_nodes, hidden_nodes).")
        expect_close(answer["lr"], 0.25, "self.lr", hint="store the learning rate as self.lr.")
    elif part == "spread":
        # 313,600 draws for wih and 12,000 for who: sampling error well under 1 %.
        expect_in_range(answer["wih_mean"], -0.001, 0.001, "mean of wih", hint="centre the weights on 0.")
        if abs(answer["wih_std"] - 400 ** -0.5) < 0.002:
            raise WrongAnswer("spread of wih: it is 1/sqrt(hidden_nodes); the rule uses the number of links "
                              "INTO a hidden node, which is input_nodes.")
        expect_in_range(answer["wih_std"], 784 ** -0.5 * 0.97, 784 ** -0.5 * 1.03, "standard deviation of wih",
                        hint="draw from normal(0, input_nodes ** -0.5).")
        expect_in_range(answer["who_std"], 400 ** -0.5 * 0.96, 400 ** -0.5 * 1.04, "standard deviation of who",
                        hint="draw from normal(0, hidden_nodes ** -0.5): hidden_nodes links go into each output.")
    else:
        if answer["same_seed_equal"] is not True:
            raise WrongAnswer("two networks made with generators of the same seed have different weights: "
                              "draw only from `rng`.")
        if answer["other_seed_differs"] is not True:
            raise WrongAnswer("networks made with different seeds have the same weights: draw from `rng`.")


def _query_case():
    rng = np.random.default_rng(505)
    w_ih, w_ho = rng.normal(size=(5, 6)), rng.normal(size=(4, 5))
    first = rng.uniform(0.01, 1.0, size=6)
    second = rng.uniform(0.01, 1.0, size=6)
    return w_ih, w_ho, {"array_input": first, "list_input": second}


@pytest.mark.parametrize("part", ["values", "shapes"])
def test_network_query(answer, part):
    w_ih, w_ho, inputs = _query_case()
    for name, x in inputs.items():
        column = x.reshape(-1, 1)
        if part == "shapes":
            expect_shape(answer[name], (4, 1), f"query on a {name.replace('_', ' ')} of 6 numbers")
        else:
            expected = ref.query(w_ih, w_ho, column).ravel()
            expect_close(np.ravel(answer[name]), expected, f"query on a hidden {name.replace('_', ' ')}", rtol=1e-9,
                         mistakes={"the hidden layer's sigmoid is missing": expit(w_ho @ (w_ih @ column)).ravel(),
                                   "the output layer's sigmoid is missing": (w_ho @ expit(w_ih @ column)).ravel()})


def _train_case():
    rng = np.random.default_rng(606)
    w_ih, w_ho = rng.normal(size=(5, 6)), rng.normal(size=(4, 5))
    steps = []
    for _ in range(2):
        x = rng.uniform(0.01, 1.0, size=6).reshape(-1, 1)
        t = rng.uniform(0.01, 0.99, size=4).reshape(-1, 1)
        steps.append((x, t))
    return w_ih, w_ho, steps, 0.3


def _mistaken_step(w_ih, w_ho, x, t, lr):
    """What common slips produce, for the first step."""
    hidden, out = ref.forward(w_ih, w_ho, x)
    errors = t - out
    slope_out, slope_hidden = out * (1 - out), hidden * (1 - hidden)
    new_ho = w_ho + lr * (errors * slope_out) @ hidden.T
    right_ih, right_ho = ref.train_step(w_ih, w_ho, x, t, lr)
    return {
        "updated_first": (w_ih + lr * ((new_ho.T @ errors) * slope_hidden) @ x.T, new_ho),
        "no_slope": (w_ih + lr * (w_ho.T @ errors) @ x.T, w_ho + lr * errors @ hidden.T),
        "exact_gradient": (w_ih + lr * ((w_ho.T @ (errors * slope_out)) * slope_hidden) @ x.T, right_ho),
        "sign": (2 * w_ih - right_ih, 2 * w_ho - right_ho),
        "no_lr": (w_ih + (right_ih - w_ih) / lr, w_ho + (right_ho - w_ho) / lr),
    }


_MISTAKE_TEXT = {
    "updated_first": "the hidden errors are computed with who AFTER it was updated; compute them first",
    "no_slope": "the sigmoid's slope O(1 - O) is left out of the update",
    "exact_gradient": ("the output errors are multiplied by the sigmoid's slope before being split back; "
                       "this course's rule splits the raw errors E_output back, E_hidden = who.T @ E_output"),
    "sign": "the weights move the wrong way (errors are targets - outputs, and the change is added)",
    "no_lr": "the learning rate self.lr is not applied",
}


@pytest.mark.parametrize("part", ["first_step", "second_step"])
def test_network_train(answer, part):
    w_ih, w_ho, steps, lr = _train_case()
    (x1, t1), (x2, t2) = steps
    new_ih, new_ho = ref.train_step(w_ih, w_ho, x1, t1, lr)
    if part == "first_step":
        slips = _mistaken_step(w_ih, w_ho, x1, t1, lr)
        expect_close(answer["who"], new_ho, "who after one train step from given weights", rtol=1e-9, atol=1e-12,
                     mistakes={_MISTAKE_TEXT[k]: v[1] for k, v in slips.items()})
        expect_close(answer["wih"], new_ih, "wih after one train step from given weights", rtol=1e-9, atol=1e-12,
                     mistakes={_MISTAKE_TEXT[k]: v[0] for k, v in slips.items()})
    else:
        final_ih, final_ho = ref.train_step(new_ih, new_ho, x2, t2, lr)
        expect_close(answer["who2"], final_ho, "who after a second step (inputs given as a list)",
                     rtol=1e-9, atol=1e-12, hint="each step must start from the weights the previous one left.")
        expect_close(answer["wih2"], final_ih, "wih after a second step (inputs given as a list)",
                     rtol=1e-9, atol=1e-12, hint="each step must start from the weights the previous one left.")


def _predicted_labels(answer) -> np.ndarray:
    predicted = np.asarray(answer["predicted"])
    truth = exam_labels()
    if predicted.shape != truth.shape:
        raise WrongAnswer(f"predict on the {truth.size} held-back images: expected one answer per image, "
                          f"shape {truth.shape}, got shape {predicted.shape}.")
    if predicted.dtype.kind not in "iu" or predicted.min() < 0 or predicted.max() > 9:
        raise WrongAnswer("predict must return whole numbers 0 to 9 (the index of the largest output).")
    return predicted


@pytest.mark.parametrize("bar", [0.75, 0.85])
def test_trained_accuracy(answer, bar):
    accuracy = float(np.mean(_predicted_labels(answer) == exam_labels()))
    if accuracy < bar:
        raise WrongAnswer(
            f"the trained network read {accuracy:.1%} of the held-back digits correctly; this part needs {bar:.0%}. "
            "Check that train_network scales the inputs and builds targets from each label, and that predict "
            "takes the argmax of query.")
    if bar == 0.85:
        expect_in_range(answer["training_seconds"], 0.0, TRAINING_BUDGET_SECONDS, "seconds to train one epoch",
                        hint="a plain loop calling network.train once per image needs a few seconds; "
                             "avoid Python loops over single weights.")
