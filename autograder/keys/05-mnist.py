"""Answer key for 05 — A network that reads handwriting.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded: raw values only (arrays, weights, labels). Every statistic and
comparison is made here: the spread of the starting weights from the weights
themselves, the changes ``train`` made from the weights before and after,
and the trained network's answers from its own recorded weights. The time
the training took is the grader's measurement of the cell, never the
kernel's. Hidden inputs are regenerated from the cells' seeds; expected values
come from :mod:`autograder.reference.network`, and the held-back digits (in
the order this grading process gave the kernel) and their labels from
:mod:`autograder.reference.exam`, in the grader's process only.

Tolerances accept any floating-point precision a student may choose: every
comparison of computed values allows well over the rounding of a float32
computation (``precision=np.float32``: about 1e-5 of the size of the values)
and stays far below the smallest difference a named mistake makes.
"""

import math

import numpy as np
import pytest
from scipy.special import expit

from autograder.checks import WrongAnswer, agrees, expect_close, expect_shape, how_far
from autograder.preprocessors.judge import MEASURED_SECONDS
from autograder.reference import exam
from autograder.reference import network as ref
from autograder.reference.exam import exam_images, exam_labels

#: Every computed value may be a float32 computation's (about 1e-5 of its size).
FLOAT32 = dict(precision=np.float32)

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

#: Outputs closer than this count as a tie when checking which digit the network answers (float32 rounding
#: of an output near 1 is about 1e-7).
OUTPUT_TIE = 1e-5


def _scale(pixels):
    return np.asarray(pixels, dtype=float) / 255.0 * 0.99 + 0.01


def test_scale_inputs(answer):
    rng = np.random.default_rng(501)
    pixels = rng.integers(0, 256, size=(3, 784)).astype(np.uint8)
    # Smallest named mistake: /256 instead of /255, 0.4% at full ink; float32 rounding is 1e-7.
    expect_close(answer["ends"], [0.01, 1.0], "scale_inputs of 0 and 255", rtol=1e-6, **FLOAT32,
                 mistakes={"the 0.01 offset is missing": [0.0, 0.99],
                           "the pixels are divided by 255 only": [0.0, 1.0],
                           "the pixels are divided by 256": [0.01, 255 / 256 * 0.99 + 0.01]},
                 hint="0 must become 0.01 and 255 must become 1.00.")
    expect_close(answer["batch"], _scale(pixels), "scale_inputs on a hidden 3×784 array of pixels", rtol=1e-6,
                 **FLOAT32, hint="convert the pixels to floats, then apply x / 255 * 0.99 + 0.01 elementwise.")


@pytest.mark.parametrize("part", ["ten_digits", "other_length"])
def test_make_targets(answer, part):
    if part == "ten_digits":
        expected = np.full((10, 10), 0.01) + 0.98 * np.eye(10)
        expect_close(answer["all_digits"], expected, "make_targets(label) for the labels 0 to 9", **FLOAT32,
                     mistakes={"the targets are 0 and 1 (a sigmoid never reaches them)": np.eye(10),
                               "0.99 and 0.01 are swapped": 1.0 - expected})
    else:
        expect_close(answer["three_classes"], [0.01, 0.01, 0.99], "make_targets(2, n=3)", **FLOAT32,
                     hint="the length is n, and the label picks the entry that gets 0.99.")


# -- the starting weights: the key computes their statistics from the weights themselves ----------
INIT_SIZES = (784, 100, 30)   # NeuralNetwork(784, 100, 30, 0.25, rng) in the graded cell


def _weights(answer, name, shape, what):
    weights = expect_shape(answer[name], shape, f"{name} of NeuralNetwork{INIT_SIZES}")
    if not np.all(np.isfinite(weights)):
        raise WrongAnswer(f"{name}: contains nan or inf. {what}")
    return weights


def _judge_spread(weights, name, links_in, wrong_counts):
    """Mean, spread and shape of the distribution of *weights*, judged from the draws.

    With n draws of spread s the sample mean is off by s/sqrt(n) and the sample standard
    deviation by s/sqrt(2n) (one standard error); five standard errors pass.
    """
    n, s = weights.size, links_in ** -0.5
    mean, spread = float(np.mean(weights)), float(np.std(weights))
    if abs(mean) > 5 * spread / math.sqrt(n):
        raise WrongAnswer(f"mean of {name}: the weights are not centred on 0 (the mean {how_far(mean, 0.0)}). "
                          "Draw from normal(0.0, ...).", mistake="weights-not-centred")
    if abs(spread / s - 1) > 5 / math.sqrt(2 * n):
        for description, other in wrong_counts.items():
            if abs(spread / other ** -0.5 - 1) < 5 / math.sqrt(2 * n):
                raise WrongAnswer(f"spread of {name}: it is 1/sqrt({description}); the rule uses the number of "
                                  f"links INTO a node of this layer.", mistake=f"{name}-spread-from-{description}")
        if abs(spread - 1) < 5 / math.sqrt(2 * n):
            raise WrongAnswer(f"spread of {name}: the weights have standard deviation 1: pass the scale "
                              "n_in ** -0.5 to rng.normal.", mistake="weights-standard-normal")
        raise WrongAnswer(f"spread of {name}: the standard deviation {how_far(spread, s)}. "
                          "Draw from normal(0.0, n_in ** -0.5), n_in the links into a node.")
    # A normal distribution has kurtosis 3 (standard error about sqrt(24/n)); a uniform one 1.8.
    kurtosis = float(np.mean((weights - mean) ** 4) / spread ** 4)
    if abs(kurtosis - 3) > 5 * math.sqrt(24 / n):
        flat = " (they look uniform: rng.random or rng.uniform)" if kurtosis < 2.4 else ""
        raise WrongAnswer(f"distribution of {name}: the weights are not drawn from a normal distribution{flat}. "
                          "Use rng.normal(0.0, n_in ** -0.5, size=...).", mistake="weights-not-normal")


@pytest.mark.parametrize("part", ["shapes", "spread", "reproducible"])
def test_network_init(answer, part):
    inputs, hidden, outputs = INIT_SIZES
    if part == "shapes":
        _weights(answer, "wih", (hidden, inputs), "")
        _weights(answer, "who", (outputs, hidden), "")
        expect_close(answer["lr"], 0.25, "self.lr", **FLOAT32, hint="store the learning rate as self.lr.")
    elif part == "spread":
        wih = _weights(answer, "wih", (hidden, inputs), "")
        who = _weights(answer, "who", (outputs, hidden), "")
        _judge_spread(wih, "wih", inputs, {"hidden_nodes": hidden, "output_nodes": outputs})
        _judge_spread(who, "who", hidden, {"input_nodes": inputs, "output_nodes": outputs})
    else:
        first, again, other = (answer[name] for name in ("seed_3", "seed_3_again", "seed_4"))
        pairs = [(np.asarray(a), np.asarray(b)) for a, b in zip(first, again)]
        if len(pairs) != 2 or any(a.shape != b.shape or not np.array_equal(a, b) for a, b in pairs):
            raise WrongAnswer("two networks made with generators of the same seed have different weights: "
                              "draw only from `rng` (not np.random).", mistake="weights-not-from-rng")
        if all(np.asarray(a).shape == np.asarray(c).shape and np.array_equal(a, c) for a, c in zip(first, other)):
            raise WrongAnswer("networks made with different seeds have the same weights: draw from `rng`.",
                              mistake="weights-not-from-rng")


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
            # Outputs lie in (0, 1); a missing sigmoid changes them by far more than any rounding.
            expect_close(np.ravel(answer[name]), expected, f"query on a hidden {name.replace('_', ' ')}",
                         rtol=1e-6, **FLOAT32,
                         mistakes={"the hidden layer's sigmoid is missing": expit(w_ho @ (w_ih @ column)).ravel(),
                                   "the output layer's sigmoid is missing": (w_ho @ expit(w_ih @ column)).ravel()})


# -- one training step: judged on the CHANGES train made, computed here from raw weights ----------
def _train_case():
    rng = np.random.default_rng(606)
    w_ih, w_ho = rng.normal(size=(5, 6)), rng.normal(size=(4, 5))
    steps = []
    for _ in range(2):
        x = rng.uniform(0.01, 1.0, size=6).reshape(-1, 1)
        t = rng.uniform(0.01, 0.99, size=4).reshape(-1, 1)
        steps.append((x, t))
    return w_ih, w_ho, steps, 0.3


def _slips(w_ih, w_ho, x, t, lr):
    """The changes (Δwih, Δwho) that the right rule and common slips make in one step from (w_ih, w_ho)."""
    hidden, out = ref.forward(w_ih, w_ho, x)
    errors = t - out
    slope_out, slope_hidden = out * (1 - out), hidden * (1 - hidden)
    right_ih, right_ho = ref.weight_changes(w_ih, w_ho, x, t, lr)
    new_ho = w_ho + right_ho
    return {
        "right": (right_ih, right_ho),
        "updated_first": (lr * ((new_ho.T @ errors) * slope_hidden) @ x.T, right_ho),
        "no_slope": (lr * (w_ho.T @ errors) @ x.T, lr * errors @ hidden.T),
        "exact_gradient": (lr * ((w_ho.T @ (errors * slope_out)) * slope_hidden) @ x.T, right_ho),
        "sign": (-right_ih, -right_ho),
        "no_lr": (right_ih / lr, right_ho / lr),
    }


_MISTAKE_TEXT = {
    "updated_first": "the hidden errors are computed with who AFTER it was updated; compute them first",
    "no_slope": "the sigmoid's slope O(1 - O) is left out of the update",
    "exact_gradient": ("the output errors are multiplied by the sigmoid's slope before being split back; "
                       "this course's rule splits the raw errors E_output back, E_hidden = who.T @ E_output"),
    "sign": "the weights move the wrong way (errors are targets - outputs, and the change is added)",
    "no_lr": "the learning rate self.lr is not applied",
}


def _change_options(expected):
    """Tolerance for a weight change: float32 rounding of the weights moves a change by about 2e-6 of its size;
    the subtlest named slip (hidden errors from the updated who) by about 3e-3. 1e-4 of the size sits between."""
    return dict(rtol=1e-4, atol=1e-4 * float(np.max(np.abs(expected))), **FLOAT32)


def _judge_step(new, old, slips, title, which):
    """*new* − *old* against the right change, naming the slip it matches."""
    index = {"wih": 0, "who": 1}[which]
    shape = np.shape(old)
    new = expect_shape(new, shape, f"{which} after {title}")
    right = slips["right"][index]
    expect_close(new - old, right, f"the change {title} made to {which}", **_change_options(right),
                 mistakes={_MISTAKE_TEXT[k]: v[index] for k, v in slips.items() if k != "right"})


@pytest.mark.parametrize("part", ["first_step", "second_step"])
def test_network_train(answer, part):
    w_ih, w_ho, steps, lr = _train_case()
    (x1, t1), (x2, t2) = steps
    first = _slips(w_ih, w_ho, x1, t1, lr)
    if part == "first_step":
        _judge_step(answer["who"], w_ho, first, "one train step from given weights", "who")
        _judge_step(answer["wih"], w_ih, first, "one train step from given weights", "wih")
        return
    # The second step (inputs given as a list) starts from the weights the student's first step left:
    # it is judged from there, so a slip of the first step is not charged twice.
    if "wih2" not in answer or "who2" not in answer:
        raise WrongAnswer("the second step, with the inputs given as a list, did not finish: turn the inputs "
                          "into an array first (np.asarray(inputs, dtype=float).reshape(-1, 1)).",
                          mistake="list-inputs-fail")
    start_ih = expect_shape(answer["wih"], w_ih.shape, "wih after the first step")
    start_ho = expect_shape(answer["who"], w_ho.shape, "who after the first step")
    second = _slips(start_ih, start_ho, x2, t2, lr)
    for which, index, start, new in (("who", 1, start_ho, answer["who2"]), ("wih", 0, start_ih, answer["wih2"])):
        new = expect_shape(new, start.shape, f"{which} after a second step (inputs given as a list)")
        change = new - start
        slip_of_first = next((k for k, v in first.items() if k != "right"
                              and agrees(start - (w_ih, w_ho)[index], v[index], **_change_options(v[index]))), None)
        if slip_of_first and agrees(change, second[slip_of_first][index], **_change_options(second["right"][index])):
            continue   # the same slip as in the first step, already charged there
        restarted = ref.weight_changes(w_ih, w_ho, x2, t2, lr)[index]
        if not agrees(change, second["right"][index], **_change_options(second["right"][index])) and \
                agrees(new - (w_ih, w_ho)[index], restarted, **_change_options(restarted)):
            raise WrongAnswer(f"{which} after a second step: it starts again from the weights the network had "
                              "before the first step; each step must start from the weights the previous one left.",
                              mistake="step-restarts-from-old-weights")
        _judge_step(new, start, second, "a second train step (inputs given as a list)", which)


# -- the trained network: its own weights must give its answers ---------------------------------
#: Input scalings a predict may have used; only the first is the course's, the others are named slips.
_SCALINGS = {
    "scale_inputs": _scale,
    "pixels / 255 (without the 0.99 and 0.01)": lambda p: np.asarray(p, dtype=float) / 255.0,
    "raw pixels 0..255 (not scaled at all)": lambda p: np.asarray(p, dtype=float),
}


def _predicted_labels(answer) -> np.ndarray:
    predicted = np.asarray(answer["predicted"])
    truth = exam_labels()
    if predicted.shape != truth.shape:
        raise WrongAnswer(f"predict on the {truth.size} held-back images: expected one answer per image, "
                          f"shape {truth.shape}, got shape {predicted.shape}.")
    if predicted.dtype.kind not in "iu" or predicted.min() < 0 or predicted.max() > 9:
        raise WrongAnswer("predict must return whole numbers 0 to 9 (the index of the largest output).")
    return predicted


def _network_scaling(answer, predicted) -> str:
    """Which input scaling makes the recorded weights give exactly the recorded answers.

    The key runs the reference forward pass with the network's own trained weights on the
    held-back images: each answer must be the output node with the largest value (up to
    OUTPUT_TIE, so float32 and a vectorised predict pass). Answers that no scaling explains
    did not come from this network (a look-up, another model), and earn nothing.
    """
    if "wih" not in answer or "who" not in answer:
        raise WrongAnswer("the trained network's weights self.wih and self.who could not be read, so its answers "
                          "cannot be checked: keep the weights in self.wih and self.who.")
    w_ih = expect_shape(answer["wih"], (100, 784), "the trained network's wih")
    w_ho = expect_shape(answer["who"], (10, 100), "the trained network's who")
    if not (np.all(np.isfinite(w_ih)) and np.all(np.isfinite(w_ho))):
        raise WrongAnswer("the trained network's weights contain nan or inf: training diverged.")
    images = exam_images()
    for name, scale in _SCALINGS.items():
        outputs = ref.query(w_ih, w_ho, scale(images).T)                 # (10, 500)
        best = outputs.max(axis=0)
        chosen = outputs[predicted, np.arange(predicted.size)]
        runner_up = np.sort(outputs, axis=0)[-2]
        ties = np.mean(best - runner_up <= OUTPUT_TIE)
        if np.all(chosen >= best - OUTPUT_TIE) and ties <= 0.01:
            return name
    raise WrongAnswer("the answers recorded for the held-back digits are not what the trained network's own "
                      "weights give: predict must answer with the network itself (the index of the largest output "
                      "of network.query for each scaled image), not look answers up or use another model.",
                      mistake="predictions-not-from-the-network")


@pytest.mark.parametrize("bar", [0.75, 0.85])
def test_trained_accuracy(answer, bar):
    predicted = _predicted_labels(answer)
    scaling = _network_scaling(answer, predicted)
    accuracy = float(np.mean(predicted == exam_labels()))
    if accuracy < bar:
        about = 5 * math.floor(20 * accuracy)
        slip = (f" Its answers are what the network gives for {scaling}: predict must scale each image "
                "with scale_inputs, as train_network does." if scaling != "scale_inputs" else "")
        raise WrongAnswer(
            f"the trained network read fewer than {bar:.0%} of the held-back digits correctly (about {about}%)."
            f"{slip} Check that train_network scales the inputs and builds targets from each label, and that "
            "predict takes the argmax of query.", mistake="predict-unscaled" if slip else None)
    if bar == 0.85:
        seconds = answer[MEASURED_SECONDS]
        if seconds is None:
            raise WrongAnswer("the grader could not time this cell, so the training time cannot be checked; "
                              "please tell your instructor.")
        if seconds > exam.TRAINING_BUDGET_SECONDS:   # the grader's wall time of the cell (see the module doc)
            raise WrongAnswer(f"training and answering took longer than the {exam.TRAINING_BUDGET_SECONDS:.0f} s this "
                              "cell may take (timed by the grader): a plain loop calling network.train once per "
                              "image needs a few seconds; avoid Python loops over single weights.",
                              mistake="training-too-slow")
