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
from autograder.reference.exam import exam_labels
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


def test_key_accepts_the_exact_step_and_names_a_stale_hidden_error():
    assert _judge("network_train", _train_answers()).fraction == 1.0

    def updated_first(w_ih, w_ho, x, t, lr):
        hidden, out = ref.forward(w_ih, w_ho, x)
        errors = t - out
        w_ho = w_ho + lr * (errors * out * (1 - out)) @ hidden.T
        return w_ih + lr * ((w_ho.T @ errors) * hidden * (1 - hidden)) @ x.T, w_ho

    verdict = _judge("network_train", _train_answers(updated_first))
    assert verdict.passed == 0 and verdict.total == 2           # wih of both steps is off
    assert any("AFTER it was updated" in message for message in verdict.messages)
    # A tiny slip is still caught: the tolerance is tight.
    nudged = _train_answers()
    nudged["wih"] = nudged["wih"] * (1 + 1e-7)
    assert _judge("network_train", nudged).passed == 1


def test_key_spots_the_hidden_nodes_rule_for_input_weights():
    answers = {"wih_shape": [400, 784], "who_shape": [30, 400], "wih_mean": 0.0, "wih_std": 400 ** -0.5,
               "who_std": 400 ** -0.5, "lr": 0.25, "same_seed_equal": True, "other_seed_differs": True}
    verdict = _judge("network_init", answers)
    assert verdict.passed == 2 and "INTO a hidden node" in verdict.messages[0]
    answers["wih_std"] = 784 ** -0.5
    assert _judge("network_init", answers).fraction == 1.0


def test_key_judges_predicted_labels_it_never_showed_the_kernel():
    truth = exam_labels()
    assert truth.shape == (500,) and np.all(np.bincount(truth) == 50)
    cases = {
        "all correct": (truth, 1.0),
        "80% correct": (np.where(np.arange(500) % 5 == 0, (truth + 1) % 10, truth), 0.5),
        "always 7": (np.full(500, 7), 0.0),
    }
    for name, (predicted, fraction) in cases.items():
        verdict = _judge("trained_accuracy", {"predicted": predicted.astype(np.int64), "training_seconds": 1.0})
        assert verdict.fraction == fraction, name
    slow = _judge("trained_accuracy", {"predicted": truth.astype(np.int64), "training_seconds": 45.0})
    assert slow.fraction == 0.5 and "seconds to train" in slow.messages[0]


def test_reference_solution_accuracy_on_held_back_digits():
    data = mnist.load_dataset()
    network = ref.PerSampleNetwork(784, 100, 10, 0.2, np.random.default_rng(2024))
    network.train_epoch(data.train.images, data.train.labels)
    assert np.mean(network.predict(mnist.exam_images()) == exam_labels()) >= 0.87


def test_minibatch_reference_equals_per_sample_for_batches_of_one():
    data = mnist.load_dataset().train.head(50)
    single = ref.PerSampleNetwork(784, 30, 10, 0.1, np.random.default_rng(9))
    batched = ref.MiniBatchNetwork(784, 30, 10, 0.1, np.random.default_rng(9), batch_size=1, dtype=np.float64)
    single.train_epoch(data.images, data.labels)
    batched.train_epoch(data.images, data.labels)
    np.testing.assert_allclose(batched.w_ih, single.w_ih, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(batched.w_ho, single.w_ho, rtol=1e-10, atol=1e-13)
