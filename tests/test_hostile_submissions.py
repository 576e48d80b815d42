"""Hostile and broken submissions cost only their own points, with a clear reason.

One class (honest students, a hostile cell per attack, broken files) is
graded once with two workers (tests/hostile/builder.py); the tests read the
report, the gradebook and the graded notebooks.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3

import nbformat
import pytest

from autograder.course import REPOSITORY
from autograder.preprocessors.sandbox import bwrap_disables_userns
from tests.hostile.builder import ASSIGNMENT, HOSTILE_CELLS, graded_class
from tests.conftest import needs_sandbox, result

pytestmark = [pytest.mark.sandbox, needs_sandbox]

KEY = REPOSITORY / "autograder" / "keys" / f"{ASSIGNMENT}.py"
KEY_HASH = hashlib.sha256(KEY.read_bytes()).hexdigest()

#: What the summary may say of the output flood: which limit stops it first depends on the machine's load.
FLOOD_OUTCOMES = ("output flood", "kernel died", "ran out of memory", "did not finish")
#: attack → words its reason in the summary must contain.
REASONS = {
    "h-infinite-loop": "timed out",
    "h-memory-bomb": "out of memory",
    "h-fork-bomb": "process limit",
    # cut at the output limit; or, when the kernel's own buffer (hundreds of MB between two flushes)
    # outgrows its memory or its output arrives more slowly than the cell's time limit, a dead
    # kernel, a MemoryError or a cell over its time: see test_the_output_flood_is_cut
    "h-output-flood": FLOOD_OUTCOMES,
    "h-sys-exit": "sys.exit",
    "h-os-exit": "kernel died",
    "h-read-secrets": "import the grader",
    "h-write-outside": "outside its scratch folder",
    "h-network": "network",
    "b-not-json": "not JSON",
    "b-empty": "empty submission",
}


@pytest.fixture(scope="module")
def graded():
    return graded_class()


def graded_notebook(scratch, student):
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    return nbformat.read(str(scratch.course.path("autograded", student, ASSIGNMENT, f"{name}.ipynb")), as_version=4)


def test_every_submission_is_in_the_report(graded):
    _, report, kinds, _ = graded
    assert sorted(r.student for r in report.results) == sorted(kinds)


@pytest.mark.parametrize("student", sorted(REASONS))
def test_each_attack_leaves_a_clear_reason_in_the_summary(graded, student):
    _, report, _, _ = graded
    entry = result(report, student)
    text = " ".join([entry.problem or ""] + entry.notes)
    reasons = REASONS[student] if isinstance(REASONS[student], tuple) else (REASONS[student],)
    assert any(reason in text for reason in reasons), text
    assert student in report.table() and any(reason in report.table() for reason in reasons)


def test_the_honest_class_is_graded_as_if_alone(graded):
    scratch, report, _, mistake = graded
    full = scratch.course.cell_scores(ASSIGNMENT, "ada")
    assert result(report, "ada").score == result(report, "ada").max_score == 12
    assert all(score == points for score, points in full.values())
    cleo = scratch.course.cell_scores(ASSIGNMENT, "cleo")
    lost = {cell for cell, (score, points) in cleo.items() if score != points}
    assert lost == set(mistake["loses"])
    assert result(report, "ben").score == 0


@pytest.mark.parametrize("student", ["h-sys-exit", "h-kill-parent", "h-network", "h-read-secrets",
                                     "h-write-outside", "h-fork-bomb", "h-infinite-loop",
                                     "b-duplicate-ids", "b-deleted-ids"])
def test_attacks_that_the_sandbox_stops_cost_nothing_else(graded, student):
    """The hostile cell fails or is stopped; every answer after it is still graded."""
    _, report, _, _ = graded
    assert result(report, student).score == 12


def test_killing_its_parent_reaches_nothing_outside_the_sandbox(graded):
    """The parent the kernel sees is outside its reach (the signal is refused), or, where a second bwrap
    forbids user namespaces (as root), that bwrap's own init, which ignores it: the kernel runs on."""
    _, report, _, _ = graded
    entry = result(report, "h-kill-parent")
    text = " ".join([entry.problem or ""] + entry.notes)
    assert entry.score == 12 and "kernel died" not in text, text
    assert "outside its reach" in text or (os.geteuid() == 0 and bwrap_disables_userns()), text


def test_a_dead_kernel_costs_only_the_cells_after_it(graded):
    scratch, report, _, _ = graded
    assert result(report, "h-os-exit").score == 0
    notebook = graded_notebook(scratch, "h-os-exit")
    texts = [o.get("evalue", "") for c in notebook.cells for o in c.get("outputs", [])]
    assert any("not run: the kernel died" in t for t in texts)


def test_secrets_are_neither_read_nor_written(graded):
    scratch, _, _, _ = graded
    assert hashlib.sha256(KEY.read_bytes()).hexdigest() == KEY_HASH
    assert not (scratch.root / "evil.txt").exists()
    with sqlite3.connect(scratch.root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    notebook = graded_notebook(scratch, "h-read-secrets")
    hostile = notebook.cells[2]
    assert "ModuleNotFoundError" in str(hostile.outputs)
    writer = graded_notebook(scratch, "h-write-outside").cells[2]
    printed = "".join(o.get("text", "") for o in writer.outputs)
    assert printed.count("blocked") == 4
    assert not (REPOSITORY / "exercises" / "evil.py").exists()


def test_the_gradebook_holds_every_student(graded):
    scratch, _, kinds, _ = graded
    with scratch.course.gradebook() as gradebook:
        students = {s.id for s in gradebook.students}
    assert set(kinds) <= students


def test_the_output_flood_is_cut(graded):
    """The grader cuts the flood at its output limit and interrupts the cell.

    The kernel may still hit its memory limit first (ipykernel buffers what is
    printed between flushes): then the cells after the flood are lost, and the
    summary says why. Either way, only this student is affected.
    """
    scratch, report, _, _ = graded
    flood = result(report, "h-output-flood")
    if flood.score != 12:
        assert any(outcome in note for note in flood.notes for outcome in FLOOD_OUTCOMES[1:]), flood.notes
    cell = graded_notebook(scratch, "h-output-flood").cells[2]
    assert len(nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))) < 700_000  # max_output_bytes: 600 kB


def test_hostile_cells_are_really_in_the_submissions(graded):
    scratch, _, _, _ = graded
    for student in HOSTILE_CELLS:
        path = scratch.course.path("submitted", student, ASSIGNMENT)
        assert any(path.glob("*.ipynb"))
