"""Answer key for 05 — A network that reads handwriting.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded: raw values only (arrays, weights, labels). Every statistic and
comparison is made here: the distribution of the starting weights from the
weights themselves (a goodness-of-fit test), the changes ``train`` made from
the weights before and after, and the trained network from a replay of its
training: the key trains the reference network from the start the graded cell
sets, on the training digits in the order this grading process drew, accepts
the student's weights only when they match that replay, and scores those
weights on the held-back digits itself. The time the training took is the
grader's measurement of every cell up to the graded one, never the kernel's.
Hidden inputs are regenerated from the cells' seeds; expected values come from
:mod:`autograder.reference.network`, the digits, their order and the held-back
labels from :mod:`autograder.reference.exam`, in the grader's process only.

Tolerances accept any floating-point precision a student may choose: every
comparison of computed values allows well over the rounding of a float32
computation (``precision=np.float32``: about 1e-5 of the size of the values)
and stays far below the smallest difference a named mistake makes.
"""

import math

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import kstest

from autograder.checks import WrongAnswer, agrees, expect_close, expect_shape, how_far
from autograder.preprocessors.judge import MEASURED_SECONDS_SO_FAR
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
#: Goodness of fit: a Kolmogorov–Smirnov test of each weight matrix against normal(0, n_in^-0.5) fails below
#: this p-value, so honest draws fail with probability 1e-6 per matrix (their p-value is uniform). Measured
#: (tests/test_05_mnist.py): over 1,000 honest seeds no matrix failed; the smallest p-value was above 1e-3.
#: A three-point start {−√3s, 0, √3s} gives p < 1e-200 already for who's 3,000 draws.
NORMAL_FIT = 1e-6


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
    # Then the shape: a goodness-of-fit test against normal(0, n_in^-0.5), which three moments cannot replace
    # (a three-point distribution has a normal's mean, sd and kurtosis). See NORMAL_FIT.
    if kstest(np.ravel(weights), "norm", args=(0.0, s)).pvalue < NORMAL_FIT:
        kurtosis = float(np.mean((weights - mean) ** 4) / spread ** 4)
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


# -- the trained network: the key replays its training, then scores the weights itself ------------
#: Input scalings a predict may have used; only the first is the course's, the others are named slips.
_SCALINGS = {
    "scale_inputs": _scale,
    "pixels / 255 (without the 0.99 and 0.01)": lambda p: np.asarray(p, dtype=float) / 255.0,
    "raw pixels 0..255 (not scaled at all)": lambda p: np.asarray(p, dtype=float),
}

#: How closely the trained weights must follow the key's replay of the training: each entry within this
#: fraction of the largest change training made. Measured on the graded run: the same algorithm in float32
#: (or written per sample, or vectorised) ends 3e-6 of the largest change away from the float64 replay; the
#: subtlest named slip (hidden errors from the updated who) 0.9, one epoch too few or too many, or other digits,
#: the whole change.
REPLAY_TOLERANCE = 1e-3

_SLIP_NAMES = {
    "updated_first": "the hidden errors are computed with who after it was updated",
    "no_slope": "the sigmoid's slope is left out of the update",
    "exact_gradient": "the output errors are multiplied by the sigmoid's slope before being split back",
    "sign": "the weights move the wrong way",
    "no_lr": "the learning rate is not applied",
}


def _matches(new_ih, new_ho, reference) -> bool:
    start_ih, start_ho = exam.start_weights()
    for new, ref_new, start in ((new_ih, reference[0], start_ih), (new_ho, reference[1], start_ho)):
        change = np.abs(ref_new - start).max()
        if not agrees(new, ref_new, rtol=0.0, atol=REPLAY_TOLERANCE * change, ulps=0):
            return False
    return True


def train_slip(recorded) -> str | None:
    """The named slip network_train's own cell made in its first step (judged here from its raw weights), or None."""
    cell = recorded["network_train"]
    w_ih, w_ho, steps, lr = _train_case()
    slips = _slips(w_ih, w_ho, *steps[0], lr)
    try:
        changes = (np.asarray(cell.get("wih"), dtype=float) - w_ih, np.asarray(cell.get("who"), dtype=float) - w_ho)
    except (TypeError, ValueError):
        return None
    for name, (d_ih, d_ho) in slips.items():
        if name != "right" and agrees(changes[0], d_ih, **_change_options(d_ih)) \
                and agrees(changes[1], d_ho, **_change_options(d_ho)):
            return name
    return None


def _trained_weights(answer, recorded) -> tuple[np.ndarray, np.ndarray]:
    """The trained weights, once they are what the key's replay of the graded training gives; else WrongAnswer.

    Both runs of the cell are replayed here from the start the cell sets, on the training digits in the order
    this grading drew (so no training could be done before the notebook ran): the short run (two epochs over
    100 digits) and the graded one. Error carried forward: when network_train's own cell made a named slip, the
    replay of that same slip counts too.
    """
    inputs, hidden, outputs = exam.TRAINING_SIZES
    runs = {}
    for run, prefix in (("short", "short_"), ("graded", "")):
        if f"{prefix}wih" not in answer or f"{prefix}who" not in answer:
            raise WrongAnswer("the graded training did not finish, so the network cannot be scored: run the notebook "
                              "from the top and make sure train_network returns.")
        w_ih = expect_shape(answer[f"{prefix}wih"], (hidden, inputs), "the trained network's wih")
        w_ho = expect_shape(answer[f"{prefix}who"], (outputs, hidden), "the trained network's who")
        runs[run] = (w_ih, w_ho)
    slip = train_slip(recorded)
    for candidate in (None, slip) if slip else (None,):
        if all(_matches(*runs[run], exam.reference_training(run, candidate)) for run in runs):
            return runs["graded"]
    if slip is None and _matches(*runs["short"], exam.reference_training("short_one_epoch")):
        raise WrongAnswer("the weights after two epochs over 100 digits are those of one epoch: train_network must "
                          "go over the digits `epochs` times.", mistake="epochs-ignored")
    named = next((name for name in _SLIP_NAMES if name != slip
                  and _matches(*runs["graded"], exam.reference_training("graded", name))), None)
    if named:
        raise WrongAnswer(f"the trained weights are what training gives when {_SLIP_NAMES[named]} (see the "
                          "network_train cell).", mistake=f"training-{named.replace('_', '-')}")
    raise WrongAnswer("the trained weights are not what the network's own training gives: from the starting "
                      "weights the cell sets, train_network must call network.train once for each digit it is "
                      "given, in order, with scale_inputs(image) and make_targets(label), `epochs` times, and "
                      "nothing else. The network's score is computed from those weights only.",
                      mistake="weights-not-from-training")


def _answers_from(answer, w_ih, w_ho) -> str:
    """The input scaling with which the network's weights give exactly the answers predict recorded.

    The key runs the reference forward pass with the trained weights on the held-back images: each answer
    must be the output node with the largest value (up to OUTPUT_TIE, so float32 and a vectorised predict
    pass).
    """
    predicted = np.asarray(answer["predicted"])
    truth = exam_labels()
    if predicted.shape != truth.shape:
        raise WrongAnswer(f"predict on the {truth.size} held-back images: expected one answer per image, "
                          f"shape {truth.shape}, got shape {predicted.shape}.")
    if predicted.dtype.kind not in "iu" or predicted.min() < 0 or predicted.max() > 9:
        raise WrongAnswer("predict must return whole numbers 0 to 9 (the index of the largest output).")
    images = exam_images()
    for name, scale in _SCALINGS.items():
        outputs = ref.query(w_ih, w_ho, scale(images).T)                 # (10, 500)
        best = outputs.max(axis=0)
        chosen = outputs[predicted, np.arange(predicted.size)]
        if np.all(chosen >= best - OUTPUT_TIE):
            return name
    raise WrongAnswer("the answers predict gave for the held-back digits are not the trained network's: predict "
                      "must return, for each image, the index of the largest output of network.query on the "
                      "scaled image.", mistake="predictions-not-from-the-network")


@pytest.mark.parametrize("part", ["training", "accuracy_75", "accuracy_80", "time"])
def test_trained_accuracy(answer, recorded, part):
    # Nothing the kernel says about the network decides a point: its weights count once the key's own replay
    # of the training gives them, the accuracy is computed here from those weights on the held-back digits, and
    # the time is the grader's measurement of every cell up to this one.
    w_ih, w_ho = _trained_weights(answer, recorded)
    if part == "training":
        return
    if part == "time":
        seconds = answer[MEASURED_SECONDS_SO_FAR]
        if seconds is None:
            raise WrongAnswer("the grader could not time the notebook, so the training time cannot be checked; "
                              "please tell your instructor.")
        if seconds > exam.TRAINING_BUDGET_SECONDS:
            raise WrongAnswer(f"the notebook took longer than {exam.TRAINING_BUDGET_SECONDS:.0f} s from its first "
                              "cell to the end of this one (timed by the grader): a plain loop calling network.train "
                              "once per image needs a few seconds per epoch; avoid Python loops over single weights.",
                              mistake="training-too-slow")
        return
    bar = 0.75 if part == "accuracy_75" else 0.80
    outputs = ref.query(w_ih, w_ho, _scale(exam_images()).T)
    accuracy = float(np.mean(np.argmax(outputs, axis=0) == exam_labels()))
    if accuracy < bar:
        about = 5 * math.floor(20 * accuracy)
        raise WrongAnswer(f"the trained network reads fewer than {bar:.0%} of the held-back digits correctly "
                          f"(about {about}%). Check that train_network scales the inputs and builds targets from "
                          "each label.")
    scaling = _answers_from(answer, w_ih, w_ho)
    if scaling != "scale_inputs":
        raise WrongAnswer(f"predict's answers are what the network gives for {scaling}: predict must scale each "
                          "image with scale_inputs, as train_network does.", mistake="predict-unscaled")
