"""After a TA grades by hand: one step makes the penalty, the feedback and the CSVs true again.

A late student of 03 (the typical mistake, written answers for a TA) is graded
by the real pipeline; a TA then scores the written answers through nbgrader's
gradebook API exactly as formgrader's grade handler does; then ``course
finish`` (and ``course export``, the same step) runs twice.
"""

from __future__ import annotations

import csv
import functools
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from autograder.apps.arguments import UsageError
from autograder.apps.finish import run as finish
from tests.test_feedback import page_text
from tests.conftest import needs_sandbox

pytestmark = [pytest.mark.sandbox, needs_sandbox]

ASSIGNMENT = "03-backprop-errors"
DUE = "2024-03-01 12:00:00"
LATE = "2024-03-02 20:00:00"  # 32 hours late: two started days, 20 %
MANUAL = {"normalisation_answer": 1.5, "derivation_answer": 3.0}


@functools.lru_cache(maxsize=None)
def late_class():
    from autograder.demo import typical_mistake
    from autograder.grading_session import ScratchCourse, fill_solutions
    from autograder.pipeline import grade_class

    scratch = ScratchCourse(Path(tempfile.mkdtemp(prefix="finish-")))
    course = scratch.course
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    mistake = typical_mistake(ASSIGNMENT)
    folder = course.path("submitted", "lee", ASSIGNMENT)
    folder.mkdir(parents=True)
    import nbformat

    nbformat.write(fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]}),
                   str(folder / f"{course.notebooks(ASSIGNMENT)[0]}.ipynb"))
    (folder / "timestamp.txt").write_text(LATE)
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=datetime.fromisoformat(DUE))
    report = grade_class(course, ASSIGNMENT, workers=1)
    return scratch, report


def grade_by_hand(course, student: str, scores: dict[str, float]) -> None:
    """What formgrader's ``PUT /formgrader/api/grade/<id>`` does for each score a TA types."""
    with course.gradebook() as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in scores:
                    found = gradebook.find_grade_by_id(grade.id)
                    found.manual_score = scores[grade.name]
                    found.needs_manual_grade = found.manual_score is None and found.auto_score is None
        gradebook.db.commit()


def csv_row(path: Path, student: str) -> dict:
    with open(path, newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["student_id"] == student and r["assignment"] == ASSIGNMENT)


def feedback_page(course, student: str) -> Path:
    return course.path("feedback", student, ASSIGNMENT, f"{course.notebooks(ASSIGNMENT)[0]}.html")


def test_one_step_after_manual_grading_recomputes_the_penalty_feedback_and_csv(tmp_path):
    scratch, report = late_class()
    course = scratch.course
    lee = next(r for r in report.results if r.student == "lee")
    assert lee.problem is None, lee.problem
    with course.gradebook() as gradebook:
        before = gradebook.find_submission(ASSIGNMENT, "lee")
        autograded, penalty_before = before.score, before.late_submission_penalty
    assert penalty_before == pytest.approx(round(autograded * 0.2, 2))
    assert "awaiting grading" in page_text(feedback_page(course, "lee").read_text())
    from autograder.insight import class_results

    before_report = class_results(course, ASSIGNMENT)
    assert before_report.pending == {"lee": 5.0}   # both written answers (2 + 3 points): pending, not 0
    assert before_report.scores["lee"] == pytest.approx(autograded - penalty_before)   # after the penalty

    grade_by_hand(course, "lee", MANUAL)
    lines: list[str] = []
    assert finish(root=course.root, assignment=ASSIGNMENT, to=tmp_path / "grades.csv", out=lines.append) == 0

    final = autograded + sum(MANUAL.values())
    expected_penalty = round(final * 0.2, 2)
    row = csv_row(tmp_path / "grades.csv", "lee")
    assert float(row["raw_score"]) == pytest.approx(final)
    assert float(row["late_submission_penalty"]) == pytest.approx(expected_penalty)
    assert float(row["score"]) == pytest.approx(final - expected_penalty)
    assert row["problem"] == ""
    after_report = class_results(course, ASSIGNMENT)   # the report's score is the CSV's
    assert after_report.pending == {} and after_report.scores["lee"] == pytest.approx(float(row["score"]))
    assert any("lee" in line and "recomputed" in line for line in lines), lines

    text = page_text(feedback_page(course, "lee").read_text().split("<body", 1)[1], " ")
    assert "awaiting" not in text
    assert f"Score: {round(final - expected_penalty, 2)} of 24.0" in text, text[:400]
    assert f"-{expected_penalty:g}" in text.replace("−", "-") or f"{expected_penalty:.1f}" in text
    cells = (course.root / f"grades-{ASSIGNMENT}-cells.csv").read_text()
    assert f"{ASSIGNMENT},lee,backprop_errors,derivation_answer,3.0" in cells or ",derivation_answer,3.0," in cells

    # the second run changes nothing: same CSV bytes, same pages, nothing regenerated
    csv_before = (tmp_path / "grades.csv").read_bytes()
    page_before = feedback_page(course, "lee").stat().st_mtime_ns
    again: list[str] = []
    assert finish(root=course.root, assignment=ASSIGNMENT, to=tmp_path / "grades.csv", out=again.append) == 0
    assert (tmp_path / "grades.csv").read_bytes() == csv_before
    assert feedback_page(course, "lee").stat().st_mtime_ns == page_before
    assert "none changed" in again[0] and "all up to date" in again[0], again


def test_export_to_a_missing_folder_says_so_in_one_line_and_writes_nothing(tmp_path):
    scratch, _ = late_class()
    before = sorted(p.relative_to(scratch.course.root) for p in scratch.course.root.rglob("*"))
    with pytest.raises(UsageError, match="no folder .*missing.* for --to"):
        finish(root=scratch.course.root, assignment=ASSIGNMENT, to=tmp_path / "missing" / "grades.csv")
    assert sorted(p.relative_to(scratch.course.root) for p in scratch.course.root.rglob("*")) == before
    assert not (tmp_path / "missing").exists()
