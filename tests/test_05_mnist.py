"""Assignment 05: the key judges the network's algebra and its trained answers;
a plain per-example student network grades well inside a minute; a network
that never finishes training loses only the training points."""

from __future__ import annotations

import time

import numpy as np
import pytest

from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.keyrunner import key_file, run_key
from autograder.reference import network as ref
from autograder.reference.exam import exam_images, exam_labels
from exercises import mnist

ASSIGNMENT = "05-mnist"
AUTOGRADED = {"scale_inputs", "make_targets", "network_init", "network_query", "network_train", "trained_accuracy"}

# Rashid's own style: lists in, np.array(..., ndmin=2).T, a lambda for the sigmoid.
RASHID_STYLE = '''
import scipy.special

class NeuralNetwork:
    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, rng):
        self.inodes, self.hnodes, self.onodes = input_nodes, hidden_nodes, output_nodes
        self.lr = learning_rate
        self.wih = rng.normal(0.0, pow(self.inodes, -0.5), (self.hnodes, self.inodes))
        self.who = rng.normal(0.0, pow(self.hnodes, -0.5), (self.onodes, self.hnodes))
        self.activation_function = lambda x: scipy.special.expit(x)

    def train(self, inputs_list, targets_list):
        inputs = np.array(inputs_list, ndmin=2).T
        targets = np.array(targets_list, ndmin=2).T
        hidden_outputs = self.activation_function(np.dot(self.wih, inputs))
        final_outputs = self.activation_function(np.dot(self.who, hidden_outputs))
        output_errors = targets - final_outputs
        hidden_errors = np.dot(self.who.T, output_errors)
        self.who += self.lr * np.dot((output_errors * final_outputs * (1.0 - final_outputs)), np.transpose(hidden_outputs))
        self.wih += self.lr * np.dot((hidden_errors * hidden_outputs * (1.0 - hidden_outputs)), np.transpose(inputs))

    def query(self, inputs_list):
        inputs = np.array(inputs_list, ndmin=2).T
        hidden_outputs = self.activation_function(np.dot(self.wih, inputs))
        return self.activation_function(np.dot(self.who, hidden_outputs))
'''

RASHID_LOOP = '''
def train_network(network, digits, epochs=1):
    for e in range(epochs):
        for record_index in range(len(digits.labels)):
            inputs = (np.asarray(digits.images[record_index]) / 255.0 * 0.99) + 0.01
            targets = np.zeros(network.onodes) + 0.01
            targets[int(digits.labels[record_index])] = 0.99
            network.train(inputs, targets)


def predict(network, images):
    answers = []
    for image in images:
        outputs = network.query((np.asarray(image) / 255.0 * 0.99) + 0.01)
        answers.append(np.argmax(outputs))
    return np.array(answers)
'''

NEVER_FINISHES = '''
def train_network(network, digits, epochs=1):
    while True:          # forgot to stop
        time.sleep(0.1)


def predict(network, images):
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    scratch = ScratchCourse(tmp_path_factory.mktemp("course05"))
    yield scratch
    scratch.cleanup()


def _grade(course: ScratchCourse, replace: dict[str, str], student: str):
    notebook = fill_solutions(course.release_notebook(ASSIGNMENT), course.source_notebook(ASSIGNMENT), replace)
    start = time.perf_counter()
    result = course.grade(ASSIGNMENT, notebook, student)
    return result, time.perf_counter() - start


def test_plain_per_example_student_gets_full_marks_within_a_minute(course):
    course.release(ASSIGNMENT)     # generating is the instructor's cost, not the grading's
    result, seconds = _grade(course, {"network_impl": RASHID_STYLE, "training_impl": RASHID_LOOP}, "rashid")
    assert {cell: result.cells[cell] for cell in AUTOGRADED} == {
        cell: (result.cells[cell][1], result.cells[cell][1]) for cell in AUTOGRADED}
    assert seconds < 60, f"autograding took {seconds:.1f} s"


def test_network_that_never_finishes_loses_only_the_training_points(tmp_path):
    course = ScratchCourse(tmp_path / "course", **{"Execute.timeout": 4})
    try:
        result, _ = _grade(course, {"training_impl": NEVER_FINISHES}, "endless")
    finally:
        course.cleanup()
    assert result.cells["trained_accuracy"][0] == 0
    assert "recorded no answer" in result.cell_output_text("trained_accuracy") or \
        "stopped with" in result.cell_output_text("trained_accuracy")
    for cell in AUTOGRADED - {"trained_accuracy"}:
        assert result.cells[cell][0] == result.cells[cell][1], cell


# -- the key on its own, without a notebook -------------------------------------

def _judge(cell: str, recorded: dict):
    verdicts, _ = run_key(key_file(ASSIGNMENT), {cell: recorded})
    return verdicts[cell]


def _train_answers(step=ref.train_step):
    rng = np.random.default_rng(606)
    w_ih, w_ho = rng.normal(size=(5, 6)), rng.normal(size=(4, 5))
    answers = {}
    for suffix in ("", "2"):
        x, t = rng.uniform(0.01, 1.0, size=(6, 1)), rng.uniform(0.01, 0.99, size=(4, 1))
        w_ih, w_ho = step(w_ih, w_ho, x, t, 0.3)
        answers["wih" + suffix], answers["who" + suffix] = w_ih, w_ho
    return answers


def _updated_first(w_ih, w_ho, x, t, lr):
    hidden, out = ref.forward(w_ih, w_ho, x)
    errors = t - out
    w_ho = w_ho + lr * (errors * out * (1 - out)) @ hidden.T
    return w_ih + lr * ((w_ho.T @ errors) * hidden * (1 - hidden)) @ x.T, w_ho


def test_key_accepts_the_exact_step_in_any_precision_and_names_a_stale_hidden_error():
    assert _judge("network_train", _train_answers()).fraction == 1.0
    as_float32 = {name: value.astype(np.float32) for name, value in _train_answers().items()}
    assert _judge("network_train", as_float32).fraction == 1.0

    verdict = _judge("network_train", _train_answers(_updated_first))
    # The first step names the slip; the second repeats it from the student's own weights: charged once.
    assert verdict.passed == 1 and verdict.total == 2
    assert "AFTER it was updated" in verdict.messages[0] and verdict.messages[0].startswith("[first_step]")
    # A change 1% off is caught: the key judges the change train made, not the weights it lands on.
    nudged = _train_answers()
    w_ih = np.random.default_rng(606).normal(size=(5, 6))
    nudged["wih"] = w_ih + (nudged["wih"] - w_ih) * 1.01
    assert "[first_step]" in _judge("network_train", nudged).messages[0]


def test_key_names_the_real_slip_of_a_second_step():
    """A second step that restarts from the old weights is told so; a wrong update is not blamed on them."""
    answers = _train_answers()
    rng = np.random.default_rng(606)
    w_ih, w_ho = rng.normal(size=(5, 6)), rng.normal(size=(4, 5))
    steps = [(rng.uniform(0.01, 1.0, size=(6, 1)), rng.uniform(0.01, 0.99, size=(4, 1))) for _ in range(2)]
    restarted = ref.train_step(w_ih, w_ho, *steps[1], 0.3)
    verdict = _judge("network_train", dict(answers, wih2=restarted[0], who2=restarted[1]))
    assert verdict.passed == 1 and "starts again from the weights" in verdict.messages[0]
    no_lr = [start + (new - start) / 0.3 for start, new in
             zip((answers["wih"], answers["who"]), ref.train_step(answers["wih"], answers["who"], *steps[1], 0.3))]
    verdict = _judge("network_train", dict(answers, wih2=no_lr[0], who2=no_lr[1]))
    assert verdict.passed == 1 and "the learning rate self.lr is not applied" in verdict.messages[0]
    assert "previous one left" not in verdict.messages[0]


def _init_answers(wih=None, who=None):
    rng = np.random.default_rng(7)
    right_ih, right_ho = ref.init_weights(100, 784, 30, rng)
    small = {name: list(ref.init_weights(4, 5, 3, np.random.default_rng(seed)))
             for name, seed in (("seed_3", 3), ("seed_3_again", 3), ("seed_4", 4))}
    return {"wih": right_ih if wih is None else wih, "who": right_ho if who is None else who, "lr": 0.25, **small}


def test_key_computes_the_spread_of_the_starting_weights_itself():
    assert _judge("network_init", _init_answers()).fraction == 1.0
    other = np.random.default_rng(11)
    cases = {
        "INTO a node": other.normal(0.0, 100 ** -0.5, size=(100, 784)),               # 1/sqrt(hidden_nodes)
        "standard deviation 1": other.normal(0.0, 1.0, size=(100, 784)),
        "look uniform": other.uniform(-1, 1, size=(100, 784)) * 784 ** -0.5 * 3 ** 0.5,  # right spread, flat
        "not centred": other.normal(0.01, 784 ** -0.5, size=(100, 784)),
    }
    for phrase, wih in cases.items():
        verdict = _judge("network_init", _init_answers(wih=wih))
        assert verdict.passed == 2 and phrase in verdict.messages[0], (phrase, verdict.messages)
    lying = dict(_init_answers(), seed_3_again=list(ref.init_weights(4, 5, 3, np.random.default_rng(5))))
    assert "same seed" in _judge("network_init", lying).messages[0]


def _trained(images: int = 3500, seed: int = 2024):
    data = mnist.load_dataset()
    network = ref.PerSampleNetwork(784, 100, 10, 0.2, np.random.default_rng(seed))
    network.train_epoch(data.train.images[:images], data.train.labels[:images])
    return network


def _accuracy_answers(network, **extra):
    return {"predicted": network.predict(exam_images()).astype(np.int64), "wih": network.w_ih.astype(np.float32),
            "who": network.w_ho.astype(np.float32), "grader.seconds": 5.0, **extra}


def test_key_judges_the_networks_own_answers_on_digits_it_never_showed_the_kernel():
    truth = exam_labels()
    assert truth.shape == (500,) and np.all(np.bincount(truth) == 50)
    network = _trained()
    assert _judge("trained_accuracy", _accuracy_answers(network)).fraction == 1.0
    # The true labels themselves, or any answers the weights do not give, earn nothing.
    for predicted in (truth, np.where(np.arange(500) % 7 == 0, (truth + 1) % 10, network.predict(exam_images()))):
        verdict = _judge("trained_accuracy", _accuracy_answers(network, predicted=predicted.astype(np.int64)))
        assert verdict.fraction == 0.0 and "not what the trained network's own weights give" in verdict.messages[0]
    # Weights that cannot tell the digits apart (all outputs tie) explain no answers either.
    flat = _accuracy_answers(network, wih=np.zeros((100, 784), np.float32), who=np.zeros((10, 100), np.float32))
    assert _judge("trained_accuracy", flat).fraction == 0.0
    # An untrained network is its own but reads few digits.
    untrained = _judge("trained_accuracy", _accuracy_answers(_trained(images=0)))
    assert untrained.fraction == 0.0 and "fewer than 75%" in untrained.messages[0]


def test_key_takes_the_time_from_the_grader():
    network = _trained()
    slow = _judge("trained_accuracy", _accuracy_answers(network, **{"grader.seconds": 75.0}))
    assert slow.fraction == 0.5 and "timed by the grader" in slow.messages[0]
    unmeasured = _judge("trained_accuracy", _accuracy_answers(network, **{"grader.seconds": None}))
    assert unmeasured.fraction == 0.5 and "could not time" in unmeasured.messages[0]
    # What the kernel says about its own time is not even read.
    claimed = _judge("trained_accuracy", _accuracy_answers(network, training_seconds=0.0, **{"grader.seconds": 75.0}))
    assert claimed.fraction == 0.5


def test_reference_solution_accuracy_on_held_back_digits():
    network = _trained()
    assert np.mean(network.predict(exam_images()) == exam_labels()) >= 0.87


def test_minibatch_reference_equals_per_sample_for_batches_of_one():
    data = mnist.load_dataset().train.head(50)
    single = ref.PerSampleNetwork(784, 30, 10, 0.1, np.random.default_rng(9))
    batched = ref.MiniBatchNetwork(784, 30, 10, 0.1, np.random.default_rng(9), batch_size=1, dtype=np.float64)
    single.train_epoch(data.images, data.labels)
    batched.train_epoch(data.images, data.labels)
    np.testing.assert_allclose(batched.w_ih, single.w_ih, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(batched.w_ho, single.w_ho, rtol=1e-10, atol=1e-13)
