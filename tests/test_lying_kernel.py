"""A kernel that lies earns nothing: keys judge raw values, never what the kernel says about them.

The student's kernel is theirs: from their own cells they can replace NumPy's
statistics and comparisons, the clock, the warnings machinery and the helper
that records answers. For every assignment, a submission that makes the key's
typical mistake AND tells every such lie scores no more than the same wrong
submission told straight. Graded by the real pipeline (sandboxed nbgrader,
then the answer key).
"""

from __future__ import annotations

import nbformat
import pytest

from autograder import consistency
from autograder.grading_session import fill_solutions
from autograder.preprocessors.judge import autograded_ids
from autograder.keyrunner import key_file
from tests.conftest import course_assignments

ASSIGNMENTS = course_assignments()

#: One cell of lies, placed right after the notebook's imports.
LIES = '''
import contextlib, time, warnings
import numpy as np
import exercises, exercises.answers

# statistics and comparisons that always say "fine"
np.mean = lambda *args, **kwargs: 0.0
np.std = lambda *args, **kwargs: 0.05
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None

# a clock that says everything was instant
time.time = lambda: 0.0
time.perf_counter = lambda: 0.0
time.monotonic = lambda: 0.0

# warnings that are never caught
class _Nothing(contextlib.AbstractContextManager):
    def __init__(self, *args, **kwargs):
        pass
    def __enter__(self):
        return []
    def __exit__(self, *exc):
        return False
warnings.catch_warnings = _Nothing
warnings.warn = lambda *args, **kwargs: None

# a recording helper that turns every claim into a good one
_honest_record = exercises.answers.record
def _lying_record(name, value):
    if isinstance(value, bool):
        value = True
    elif isinstance(value, (int, float)) and any(word in name for word in ("warning", "second", "time", "count")):
        value = 0
    elif isinstance(value, (int, float)) and "mean" in name:
        value = 0.0
    elif isinstance(value, (int, float)) and ("std" in name or "spread" in name):
        value = 0.05
    _honest_record(name, value)
exercises.record = exercises.answers.record = record = _lying_record
'''


def _after_imports(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    lying = nbformat.from_dict(notebook)
    ids = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in lying.cells]
    at = ids.index("imports") + 1 if "imports" in ids else 2
    lying.cells.insert(at, nbformat.v4.new_code_cell(source.strip()))
    return lying


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_lies_on_a_wrong_submission_earn_nothing(scratch, assignment):
    mistake = consistency.typical_mistake(key_file(assignment))
    wrong = fill_solutions(scratch.release_notebook(assignment), scratch.source_notebook(assignment),
                           replace={mistake["cell"]: mistake["source"]})
    honest = scratch.grade(assignment, wrong, f"straight-{assignment}")
    lying = scratch.grade(assignment, _after_imports(wrong, LIES), f"lying-{assignment}")
    assert honest.notebook is not None and lying.notebook is not None, lying.log
    graded = autograded_ids(scratch.source_notebook(assignment))
    assert honest.score < honest.max_score
    gained = {cell: (lying.cells[cell][0], honest.cells[cell][0]) for cell in graded
              if lying.cells[cell][0] > honest.cells[cell][0]}
    assert gained == {}
    assert lying.score <= honest.score


GLOBAL_RANDOM_INIT = ("def init_weights(n_out, n_in, rng):\n"
                      "    return np.random.normal(0.0, 1.0, size=(n_out, n_in))   # not rng, not 1/sqrt(n_in)\n")


def test_a_wrong_init_with_patched_statistics_earns_no_init_weights_points(scratch):
    """The attack that once earned full marks: a wrong init plus a NumPy whose mean and std say 'fine'."""
    a = "02-signals"
    wrong = fill_solutions(scratch.release_notebook(a), scratch.source_notebook(a),
                           replace={"init_weights_impl": GLOBAL_RANDOM_INIT})
    lying = scratch.grade(a, _after_imports(wrong, LIES), "lying-init")
    assert lying.notebook is not None, lying.log
    assert lying.cells["init_weights"][0] == 0
    text = lying.cell_output_text("init_weights")
    assert "standard deviation" in text and "same seed" in text


def test_a_sigmoid_that_overflows_into_nan_gains_nothing_from_hidden_warnings(scratch):
    a = "02-signals"
    nan_sigmoid = "def sigmoid(x):\n    e = np.exp(np.asarray(x, dtype=float))\n    return e / (1 + e)\n"
    wrong = fill_solutions(scratch.release_notebook(a), scratch.source_notebook(a),
                           replace={"sigmoid_impl": nan_sigmoid})
    honest = scratch.grade(a, wrong, "nan-sigmoid")
    lying = scratch.grade(a, _after_imports(wrong, LIES), "nan-sigmoid-lying")
    assert 0 < honest.cells["sigmoid"][0] < honest.cells["sigmoid"][1]
    assert lying.cells["sigmoid"][0] <= honest.cells["sigmoid"][0]


def test_numerical_gradient_that_changes_w_gains_nothing_from_patched_comparisons(scratch):
    a = "03-backprop-errors"
    source = scratch.source_notebook(a)
    gradcheck = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "gradcheck_impl")
    sloppy = gradcheck.replace("        W[index] = original\n", "        W[index] = original + 1e-9\n")
    assert sloppy != gradcheck
    wrong = fill_solutions(scratch.release_notebook(a), source, replace={"gradcheck_impl": sloppy})
    honest = scratch.grade(a, wrong, "sloppy-gradient")
    lying = scratch.grade(a, _after_imports(wrong, LIES), "sloppy-gradient-lying")
    assert honest.cells["numerical_gradient"][0] < honest.cells["numerical_gradient"][1]
    assert "left W changed" in honest.cell_output_text("numerical_gradient")
    assert lying.cells["numerical_gradient"][0] <= honest.cells["numerical_gradient"][0]


# -- forged carried-forward values ------------------------------------------------------------------

#: Before every cell: every function a graded cell calls answers 0.5, and every recorded number becomes 0.5.
CONSTANT_EVERYWHERE = '''
import numpy as np
import exercises, exercises.answers

_honest_record = exercises.answers.record
def _half(value):
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return np.full(value.shape, 0.5)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 0.5
    if isinstance(value, list):
        return [_half(item) for item in value]
    return value
def _constant_record(name, value):
    _honest_record(name, _half(value))
def _constants(*args, **kwargs):
    for name in ("sigmoid", "combined_input", "init_weights", "query", "refine_slope", "train_slope",
                 "r_scale", "classify", "split_errors", "backpropagate_errors", "numerical_gradient"):
        get_ipython().user_ns[name] = lambda *a, **k: 0.5
    get_ipython().user_ns["record"] = _constant_record
get_ipython().events.register("pre_run_cell", _constants)
exercises.record = exercises.answers.record = record = _constant_record
'''


@pytest.mark.parametrize("assignment", ["01-linear-classifier", "02-signals"])
def test_answers_forged_as_constants_on_the_untouched_release_earn_nothing(scratch, assignment):
    """A constant recorded for every earlier answer and every 'consequence' of it carries nothing forward."""
    release = scratch.release_notebook(assignment)
    forged = scratch.grade(assignment, _after_imports(release, CONSTANT_EVERYWHERE), f"constant-{assignment}")
    assert forged.notebook is not None, forged.log
    assert forged.score == 0, {cell: score for cell, score in forged.cells.items() if score[0]}


#: A wrong sigmoid told straight, then the same with its 'consequences' in query forged to match a constant.
FORGED_CONSEQUENCE = '''
import numpy as np
import exercises, exercises.answers

_honest_record = exercises.answers.record
def _forging_record(name, value):
    if name.startswith("query_") or name in ("column", "batch"):
        value = np.full(np.shape(value), 0.5)     # the earlier cell's 'own' values and query's answer agree
    _honest_record(name, value)
exercises.record = exercises.answers.record = record = _forging_record
'''


def test_a_wrong_earlier_value_with_a_matching_forged_consequence_earns_no_more_than_the_mistake(scratch):
    a = "02-signals"
    hard = "def sigmoid(x):\n    return np.clip(0.5 + 0.2 * np.asarray(x, dtype=float), 0, 1)\n"
    wrong = fill_solutions(scratch.release_notebook(a), scratch.source_notebook(a), replace={"sigmoid_impl": hard})
    honest = scratch.grade(a, wrong, "hard-sigmoid-straight")
    forged = scratch.grade(a, _after_imports(wrong, FORGED_CONSEQUENCE), "hard-sigmoid-forged")
    assert honest.notebook is not None and forged.notebook is not None, forged.log
    assert forged.cells["query"][0] == 0 < honest.cells["query"][0]
    assert forged.score <= honest.score
