"""Grading a whole class: outputs, late work, resuming, intake of LMS zips and folders."""

from __future__ import annotations

import csv
import shutil
import time
import zipfile

import nbformat
import pytest

from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.intake import intake, normalized, tidy_submission
from autograder.pipeline import fingerprint, grade_class
from tests.hostile.builder import ASSIGNMENT, graded_class
from tests.conftest import needs_sandbox, result

pytestmark = [pytest.mark.sandbox]



@pytest.fixture(scope="module")
def graded():
    return graded_class()


@needs_sandbox
def test_outputs_grades_csv_cells_csv_feedback(graded):
    scratch, report, kinds, _ = graded
    with open(report.grades_csv) as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}
    assert set(kinds) <= set(rows)
    assert float(rows["ada"]["raw_score"]) == 12
    with open(report.cells_csv) as handle:
        cells = [row for row in csv.DictReader(handle) if row["student"] == "cleo"]
    assert sum(float(r["max_score"]) for r in cells) == 12
    lost = [r for r in cells if float(r["score"]) < float(r["max_score"])]
    assert lost and all("✘" in r["message"] or "WrongAnswer" in r["message"] for r in lost), lost
    html = (report.feedback_dir / "ada" / ASSIGNMENT).glob("*.html")
    text = next(html).read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "exercises.record" not in text
    assert "Late work" in text and "on time" in text


@needs_sandbox
def test_late_work_loses_a_share_per_day_and_says_so(graded):
    scratch, report, _, _ = graded
    with scratch.course.gradebook() as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, "lee-late")
        penalty = sum(nb.late_submission_penalty or 0 for nb in submission.notebooks)
    assert penalty == pytest.approx(12 * 0.20)  # 32 h late → 2 started days × 10 %
    text = next((report.feedback_dir / "lee-late" / ASSIGNMENT).glob("*.html")).read_text()
    assert "2 day(s) late" in text and "10% of the points" in text


@needs_sandbox
def test_summary_lists_counts_failures_and_time(graded):
    _, report, kinds, _ = graded
    table = report.table()
    assert f"{len(kinds)} submission(s)" in table and "failed 2" in table
    assert "sandbox: bwrap" in table and "b-not-json" in table.split("failed (2):")[1]


@needs_sandbox
def test_a_second_run_grades_only_what_changed(graded):
    scratch, first, _, _ = graded
    course = scratch.course
    start = time.perf_counter()
    again = grade_class(course, ASSIGNMENT, workers=2)
    assert all(r.status in ("unchanged", "failed") for r in again.results)
    assert time.perf_counter() - start < 30
    assert {r.student: r.score for r in again.results} == {r.student: r.score for r in first.results}
    # ben finally answers: only ben is graded again
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    name = course.notebooks(ASSIGNMENT)[0]
    nbformat.write(fill_solutions(release, source), str(course.path("submitted", "ben", ASSIGNMENT, f"{name}.ipynb")))
    third = grade_class(course, ASSIGNMENT, workers=2)
    assert [r.student for r in third.results if r.status == "graded"] == ["ben"]
    assert result(third, "ben").score == 12


def test_tidy_renames_copies_and_reports_extras(tmp_path):
    folder = tmp_path / "s" / ASSIGNMENT
    (folder / "work").mkdir(parents=True)
    (folder / "Copy of signals (1).ipynb").write_text("{}")
    (folder / "work" / "signals-2.ipynb").write_text("{}")
    (folder / "notes.txt").write_text("hi")
    notes = tidy_submission(folder, ["signals"])
    assert (folder / "signals.ipynb").exists()
    assert any("graded" in n for n in notes) and any("extra notebook" in n for n in notes)
    assert any("notes.txt" in n for n in notes)
    assert normalized("Copy of Signals (3).ipynb") == normalized("signals-1.ipynb") == "signals"


@pytest.fixture(scope="module")
def scratch_course(tmp_path_factory):
    scratch = ScratchCourse(tmp_path_factory.mktemp("intake"))
    scratch.release(ASSIGNMENT)
    return scratch


def test_lms_zip_canvas_and_moodle(scratch_course, tmp_path):
    course = scratch_course.course
    notebook = (course.path("release", ASSIGNMENT) / "signals.ipynb").read_bytes()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_12345_678901_signals.ipynb", notebook)
        zf.writestr("smithbob_LATE_22222_333333_Copy of signals (1).ipynb", notebook)
        zf.writestr("smithbob_LATE_22222_333333_helper.py", "x = 1\n")
        zf.writestr("Ana Lopez_4567_assignsubmission_file_/signals.ipynb", notebook)
        zf.writestr("Tom Ng_4568_assignsubmission_file_signals-1.ipynb", notebook)
        zf.writestr("README.txt", "not a submission")
    notes = intake(course, ASSIGNMENT, archive)
    for student in ("doejane", "smithbob", "ana-lopez", "tom-ng"):
        assert (course.path("submitted", student, ASSIGNMENT) / "signals.ipynb").exists(), student
    # An extra file is kept for the course staff, never beside the notebook that is graded and returned.
    assert not (course.path("submitted", "smithbob", ASSIGNMENT) / "helper.py").exists()
    kept = course.root / ".grading" / "extra-files" / ASSIGNMENT / "smithbob.zip"
    with zipfile.ZipFile(kept) as zf:
        assert zf.read("helper.py") == b"x = 1\n"
    assert any("helper.py" in n and "kept for the course staff" in n for n in notes["smithbob"])
    assert any("README.txt" in n for n in notes["(intake)"])


def test_folder_intake_and_fingerprint(scratch_course, tmp_path):
    course = scratch_course.course
    source = tmp_path / "class"
    (source / "zoe" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(course.path("release", ASSIGNMENT, "signals.ipynb"), source / "zoe" / ASSIGNMENT / "signals (1).ipynb")
    (source / "yan").mkdir()
    shutil.copy(course.path("release", ASSIGNMENT, "signals.ipynb"), source / "yan" / "signals.ipynb")
    notes = intake(course, ASSIGNMENT, source)
    assert (course.path("submitted", "zoe", ASSIGNMENT) / "signals.ipynb").exists()
    assert (course.path("submitted", "yan", ASSIGNMENT) / "signals.ipynb").exists()
    assert any("took the student's folder" in n for n in notes["yan"])
    before = fingerprint(course, ASSIGNMENT, "zoe")
    (course.path("submitted", "zoe", ASSIGNMENT) / "extra.txt").write_text("changed")
    assert fingerprint(course, ASSIGNMENT, "zoe") != before
