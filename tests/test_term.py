"""A term with a roster, deadlines, extensions and grades going back to the LMS.

One class of 02-signals is graded for the module, as a TA runs the term:
the class list imported from Canvas, a standing accommodation granted before
the assignment exists, the due date set, one-off extensions granted, the
class graded (times from nbgrader's ``timestamp.txt``), a manual grade given,
then the grades exported for Canvas and Moodle.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import nbformat
import pytest

from autograder import deadlines
from autograder.apps import extend, extensions, lms_export, roster as roster_app
from autograder.apps.arguments import UsageError
from autograder.cli import main
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class
from autograder.roster import load_roster, read_lms_roster
from tests.conftest import needs_sandbox

A = "02-signals"
LIMITS = {"Execute.timeout": 20, "Execute.iopub_timeout": 8, "SandboxedExecute.notebook_timeout": 90,
          "SandboxedExecute.max_output_bytes": 2_000_000, "SandboxedExecute.memory_limit_mb": 2048,
          "SandboxedExecute.max_processes": 64, "PerDayPenalty.grace_minutes": 0.0}
DUE = "2026-03-01 23:59:00"
#: student → (submission time, what they are)
CLASS = {"amy": ("2026-03-03 23:59:00", "extension of 3 days, submitted 2 days late"),
         "bo": ("2026-03-05 23:59:00", "extension of 3 days, submitted 4 days late"),
         "cy": ("2026-03-02 23:59:00", "standing accommodation of 2 days, submitted 1 day late"),
         "dee": ("2026-03-02 23:59:00", "no extension, submitted 1 day late"),
         "eve": ("2026-03-01 20:00:00", "on time, then a manual grade"),
         "zz-visitor": ("2026-03-01 20:00:00", "not on the roster")}

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,02-signals (4711),Current Score
    Points Possible,,,,,12,(read only)
"Adams, Amy",101,S101,amy,Lab A,,
"Bose, Bo",102,S102,bo,Lab A,,
"Chen, Cy",103,S103,cy,Lab B,,
"Diaz, Dee",104,S104,dee,Lab B,,
"Eze, Eve",105,S105,eve,Lab A,,
"Fox, Fay",106,S106,fay,Lab B,,
"Student, Test",999,,,Lab A,,
"""
#: Moodle's grade export as a plain text file (default profile fields), with the username added.
MOODLE_ROSTER = """First name,Last name,ID number,Institution,Department,Email address,Username
Amy,Adams,M101,,,amy@uni.example,amy
Bo,Bose,M102,,,bo@uni.example,bo
Cy,Chen,M103,,,cy@uni.example,cy
Dee,Diaz,M104,,,dee@uni.example,dee
Eve,Eze,M105,,,eve@uni.example,eve
Fay,Fox,M106,,,fay@uni.example,fay
"""



def printed() -> tuple[list[str], callable]:
    lines: list[str] = []
    return lines, lines.append


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("term")
    scratch = ScratchCourse(tmp / "course", **LIMITS)
    course = scratch.course
    (tmp / "canvas.csv").write_text(CANVAS_ROSTER)
    imported, say = printed()
    roster_app.run(root=course.root, file=str(tmp / "canvas.csv"), out=say)
    # A standing accommodation, granted before the assignment exists anywhere in the gradebook.
    with course.gradebook() as gradebook:
        assert A not in [a.name for a in gradebook.assignments]
    extend.run(root=course.root, student="cy", days=2, every=True, reason="accommodation letter", out=print)
    release, source = scratch.release_notebook(A), scratch.source_notebook(A)
    for student, (when, _) in CLASS.items():
        folder = course.path("submitted", student, A)
        folder.mkdir(parents=True)
        nbformat.write(fill_solutions(release, source), str(folder / "signals.ipynb"))
        (folder / "timestamp.txt").write_text(when)
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(A, duedate=datetime.fromisoformat(DUE))
    for student in ("amy", "bo"):
        extend.run(root=course.root, assignment=A, student=student, days=3, reason="medical", out=print)
    report = grade_class(course, A, workers=2)
    with course.gradebook() as gradebook:   # a TA's manual grade in formgrader
        notebook = gradebook.find_submission_notebook("signals", A, "eve")
        grade = next(g for g in notebook.grades if g.max_score > 0)
        grade.manual_score = grade.max_score - 1
        gradebook.db.commit()
    return scratch, report, imported


def penalty(course, student: str) -> float:
    with course.gradebook() as gradebook:
        return gradebook.find_submission(A, student).late_submission_penalty or 0.0


def feedback(course, student: str) -> str:
    return next(course.path("feedback", student, A).glob("*.html")).read_text()


# -- roster ----------------------------------------------------------------------------

@pytest.mark.slow
def test_a_canvas_roster_imports_ids_names_and_sections_into_the_gradebook(term):
    scratch, _, imported = term
    assert imported[1] == "columns read: Student, ID, SIS User ID, SIS Login ID, Section"
    assert imported[2] == "student ids from: SIS Login ID"
    roster = load_roster(scratch.course.root)
    assert sorted(roster) == ["amy", "bo", "cy", "dee", "eve", "fay"]   # no "Points Possible", no test student
    assert roster["cy"].section == "Lab B" and roster["cy"].lms_user_id == "103"
    with scratch.course.gradebook() as gradebook:
        amy = gradebook.find_student("amy")
        assert (amy.first_name, amy.last_name, amy.lms_user_id) == ("Amy", "Adams", "101")


def test_a_moodle_roster_imports_with_the_names_moodle_puts_in_its_zips(tmp_path):
    path = tmp_path / "moodle.csv"
    path.write_text(MOODLE_ROSTER.replace(",Username", "").replace(",amy\n", "\n").replace(",bo\n", "\n")
                    .replace(",cy\n", "\n").replace(",dee\n", "\n").replace(",eve\n", "\n").replace(",fay\n", "\n"))
    roster = read_lms_roster(path)
    assert roster.lms == "moodle"
    assert roster.columns_read == ["First name", "Last name", "ID number", "Email address"]
    assert [s.id for s in roster.students] == ["amy-adams", "bo-bose", "cy-chen", "dee-diaz", "eve-eze", "fay-fox"]
    assert roster.students[0].email == "amy@uni.example"


def test_a_roster_that_is_neither_lms_s_says_what_to_do_in_one_line(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("name;mail\nx;y\n")
    with pytest.raises(UsageError, match="neither a Canvas gradebook export"):
        roster_app.run(root=tmp_path / "root", file=str(path))
    path.write_text('Student,ID,SIS Login ID,Section\n"Evil, Ev",1,../../etc,A\n"Ok, Al",2,al,A\n')
    roster = read_lms_roster(path)
    assert [s.id for s in roster.students] == ["al"] and "not a valid student id" in roster.skipped[0]


def test_any_roster_file_imports_valid_ids_or_is_refused_in_one_line(tmp_path):
    """Hypothesis: names, ids and bytes an LMS (or a student's display name) could put in the file."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from autograder.roster import RosterError
    from autograder.safefiles import student_id_problem

    cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
    row = st.tuples(cell, st.integers(1, 10**6).map(str), cell, cell)
    path = tmp_path / "fuzz.csv"

    @hypothesis.settings(max_examples=120, deadline=None)
    @hypothesis.given(st.lists(row, max_size=8), st.binary(max_size=60), st.booleans())
    def imports(rows, junk, raw):
        if raw:
            path.write_bytes(junk)
        else:
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(["Student", "ID", "SIS Login ID", "Section"])
            writer.writerows(rows)
            path.write_text(text.getvalue())
        try:
            roster = read_lms_roster(path)
        except RosterError as error:
            assert "\n" not in str(error)
            return
        assert all(student_id_problem(s.id) is None for s in roster.students)
        assert all(not any(ord(c) < 32 for c in s.name) for s in roster.students)

    imports()


@needs_sandbox
def test_a_submission_from_someone_not_on_the_roster_is_graded_and_flagged(term):
    scratch, report, _ = term
    visitor = next(r for r in report.results if r.student == "zz-visitor")
    assert visitor.score == 12 and not visitor.problem
    assert any("not on the roster (1): zz-visitor" in w for w in report.warnings)
    lines, say = printed()
    roster_app.run(root=scratch.course.root, out=say)
    assert lines[-1] == "graded but not on the roster (1): zz-visitor"
    assert any(line.strip().startswith("fay") and "no submission yet" in line for line in lines)


# -- deadlines and extensions -------------------------------------------------------------

@needs_sandbox
def test_an_extension_of_three_days_moves_the_late_penalty(term):
    scratch, report, _ = term
    course = scratch.course
    scores = {r.student: r.score for r in report.results}
    assert penalty(course, "amy") == 0 and scores["amy"] == 12          # 2 days after the class's deadline
    assert penalty(course, "bo") == pytest.approx(1.2) and scores["bo"] == pytest.approx(10.8)   # 1 day after hers
    assert penalty(course, "dee") == pytest.approx(1.2)                 # no extension: 1 day late
    with course.gradebook() as gradebook:   # nbgrader's own field holds the extension, so formgrader sees it
        assert gradebook.find_submission(A, "amy").extension.days == 3


@needs_sandbox
def test_a_standing_accommodation_applies_to_an_assignment_created_after_it(term):
    scratch, _, _ = term
    assert penalty(scratch.course, "cy") == 0                           # 1 day late, 2 days accommodated
    assert deadlines.extension_for(scratch.course.root, "05-mnist", "cy").days == 2


@needs_sandbox
def test_the_extended_student_s_feedback_shows_their_own_date_and_nobody_else_s_does(term):
    scratch, _, _ = term
    course = scratch.course
    amy, bo = feedback(course, "amy"), feedback(course, "bo")
    assert "Your own deadline, with the extension you were given, is 2026-03-04 23:59 UTC" in amy
    assert "on time" in amy
    assert "2026-03-04 23:59" in bo and "1 day(s) late" in bo
    for student in ("dee", "eve", "zz-visitor"):
        page = feedback(course, student)
        assert "extension" not in page and "2026-03-04" not in page and "2026-03-03 23:59 UTC" not in page
        assert "medical" not in page
    assert "2026-03-03 23:59" in feedback(course, "cy") and "medical" not in amy


@needs_sandbox
def test_course_extensions_lists_every_grant_with_each_student_s_own_deadline(term):
    scratch, _, _ = term
    lines, say = printed()
    extensions.run(root=scratch.course.root, out=say)
    text = "\n".join(lines)
    assert lines[0].startswith("cy: +2 day(s) on every assignment — accommodation letter")
    assert "02-signals: due 2026-03-03 23:59 UTC (class: 2026-03-01 23:59 UTC, +2 day(s))" in text
    assert "amy: +3 day(s) on 02-signals — medical" in text
    assert "02-signals: due 2026-03-04 23:59 UTC (class: 2026-03-01 23:59 UTC, +3 day(s))" in text


def test_extend_refuses_what_it_cannot_use_in_one_line(tmp_path, capsys):
    scratch = ScratchCourse(tmp_path)
    root = str(scratch.root)
    assert main(["extend", A, "../amy", "--days", "3", "--root", root]) == 2
    assert main(["extend", "02-signal", "amy", "--days", "3", "--root", root]) == 2
    assert main(["extend", A, "amy", "--days", "-2", "--root", root]) == 2
    assert main(["extend", "--all", A, "amy", "--days", "2", "--root", root]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4 and all(line.startswith("error: ") for line in errors), errors
    assert "did you mean 02-signals" in errors[1]
    assert deadlines.all_extensions(root) == []


# -- grades back to the LMS ------------------------------------------------------------------

def gradebook_numbers(course) -> dict[str, float]:
    """Score after the late penalty, as nbgrader's own grades CSV has it."""
    path = course.export_grades(course.root / "nbgrader-grades.csv", [A])
    with open(path) as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle) if row["timestamp"]}


@needs_sandbox
def test_the_canvas_export_equals_the_gradebook_in_canvas_s_own_layout(term, tmp_path):
    scratch, _, _ = term
    course = scratch.course
    lines, say = printed()
    lms_export.run(root=course.root, format="canvas", to=tmp_path / "canvas.csv", out=say)
    with open(tmp_path / "canvas.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    # Canvas's gradebook CSV: these five columns, each assignment as "title (Canvas id)", then Points Possible.
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "02-signals (4711)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "12"]
    cells = {row[3]: row[5] for row in rows[2:]}
    expected = gradebook_numbers(course)
    assert expected["eve"] == 11 and expected["bo"] == pytest.approx(10.8)    # the manual grade; the late penalty
    assert {s: float(v) for s, v in cells.items() if v} == {s: v for s, v in expected.items() if s in cells}
    assert cells["fay"] == ""                                                 # missing, not a silent 0
    assert "zz-visitor" not in cells and ["Adams, Amy", "101", "S101", "amy", "Lab A"] == rows[2][:5]
    assert any(line.startswith("missing in 02-signals (1, no submission; left empty, not 0): fay") for line in lines)
    assert any("graded but not on the roster" in line and "zz-visitor" in line for line in lines)


@needs_sandbox
def test_the_moodle_export_equals_the_gradebook_in_moodle_s_own_layout(term, tmp_path):
    scratch, _, _ = term
    course = scratch.course
    (tmp_path / "moodle.csv").write_text(MOODLE_ROSTER)
    roster_app.run(root=course.root, file=str(tmp_path / "moodle.csv"), id_column="Username", out=print)
    try:
        lms_export.run(root=course.root, format="moodle", to=tmp_path / "grades.csv", out=print)
    finally:
        (tmp_path / "canvas.csv").write_text(CANVAS_ROSTER)   # the module's other tests read the Canvas roster
        roster_app.run(root=course.root, file=str(tmp_path / "canvas.csv"), out=print)
    with open(tmp_path / "grades.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    # Moodle's plain-text grade export (its default profile fields), which its CSV import reads back.
    assert rows[0] == ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
                       "Assignment: 02-signals (Real)"]
    cells = {row[5].split("@")[0]: row[6] for row in rows[1:]}
    expected = gradebook_numbers(course)
    assert {s: float(v) for s, v in cells.items() if v} == {s: v for s, v in expected.items() if s in cells}
    assert cells["fay"] == "" and cells["eve"] == "11"


def test_an_lms_export_without_a_roster_says_to_import_one(tmp_path, capsys):
    scratch = ScratchCourse(tmp_path)
    with scratch.course.gradebook() as gradebook:
        gradebook.update_or_create_student("amy")
    assert main(["export", "--format", "canvas", "--root", str(scratch.root)]) == 2
    assert "course roster import FILE" in capsys.readouterr().err


# -- course serve -----------------------------------------------------------------------------

@needs_sandbox
def test_serve_grades_the_extended_student_after_the_class_deadline_as_on_time_and_another_as_late(tmp_path):
    from datetime import timedelta, timezone

    from tests.test_serve import Exchange, page_score

    ex = Exchange(tmp_path, **{"PerDayPenalty.grace_minutes": 0.0})
    due = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    with ex.course.gradebook() as gradebook:   # the class's deadline has passed
        gradebook.update_or_create_assignment(A, duedate=due)
    (tmp_path / "canvas.csv").write_text(CANVAS_ROSTER)
    roster_app.run(root=ex.course.root, file=str(tmp_path / "canvas.csv"), out=print)   # cleo is not on it
    extend.run(root=ex.course.root, assignment=A, student="amy", days=3, reason="medical", out=print)
    own = due + timedelta(days=3)
    ex.submit("amy", ex.solved())
    ex.submit("bo", ex.solved())
    log = ex.serve_once()

    amy, bo = ex.latest_feedback("amy"), ex.latest_feedback("bo")
    assert "grade kept" not in log
    assert page_score(amy)[0] == 12 and penalty(ex.course, "amy") == 0
    assert f"Your grade is your last submission before the deadline ({own:%Y-%m-%d %H:%M} UTC)" in amy
    assert f"Your own deadline, with the extension you were given, is {own:%Y-%m-%d %H:%M} UTC" in amy
    assert "it is your grade, with the late penalty" in bo and penalty(ex.course, "bo") == pytest.approx(1.2)
    assert "extension" not in bo and f"{own:%Y-%m-%d %H:%M}" not in bo and "medical" not in amy + bo

    # Instant feedback closes with the class's deadline: the extended student's window is still open.
    ex.course.config.InstantFeedback.open_until = {A: due.strftime("%Y-%m-%d %H:%M:%S")}
    ex.submit("amy", ex.mistaken())
    ex.submit("cleo", ex.solved())
    log = ex.serve_once()
    assert "cleo 02-signals: closed" in log and ex.score("cleo") is None
    assert "warning: cleo is not on the roster (course roster); the submission is kept" in log
    assert "Instant feedback for 02-signals ended" in ex.latest_feedback("cleo")
    assert page_score(ex.latest_feedback("amy"))[0] < 12 and ex.score("amy") < 12   # graded: her window is open


@needs_sandbox
def test_the_report_counts_lateness_from_each_student_s_own_deadline(term, tmp_path):
    from autograder.apps.report import write_report

    scratch, _, _ = term
    page = write_report(scratch.course, A, tmp_path / "named").read_text()
    assert "Due 2026-03-01 23:59 UTC. Extensions in effect for 3 graded student(s); 2 submission(s) came after" in page
    assert "<td>bo</td><td>2026-03-04 23:59 UTC</td><td>+3 day(s)</td><td>24.0 h</td>" in page
    assert "<td>amy</td><td>2026-03-04 23:59 UTC</td><td>+3 day(s)</td><td>on time</td>" in page
    assert "<td>cy</td><td>2026-03-03 23:59 UTC</td><td>+2 day(s) (standing)</td><td>on time</td>" in page
    anonymous = write_report(scratch.course, A, tmp_path / "anonymous", anonymous=True).read_text()
    assert "Extensions in effect for 3 graded student(s)" in anonymous and "<td>amy</td>" not in anonymous


@needs_sandbox
def test_nbgrader_s_own_export_names_the_rostered_students_with_no_submission(term, tmp_path, capsys):
    scratch, _, _ = term
    assert main(["export", A, "--root", str(scratch.course.root), "--to", str(tmp_path / "grades.csv")]) == 0
    assert "missing in 02-signals (1 on the roster with no submission; 0 in nbgrader's CSV): fay" in capsys.readouterr().out


@pytest.mark.slow
def test_lms_exports_keep_names_from_running_as_formulas_and_say_what_moodle_needs(tmp_path):
    scratch = ScratchCourse(tmp_path / "course")
    (tmp_path / "canvas.csv").write_text('Student,ID,SIS Login ID,Section\n"=HYPERLINK(1), Eve",7,eve,@lab\n')
    roster_app.run(root=scratch.root, file=str(tmp_path / "canvas.csv"), out=print)
    with scratch.course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(A)
    lines, say = printed()
    lms_export.run(root=scratch.root, format="canvas", to=tmp_path / "c.csv", assignments=[A], out=say)
    lms_export.run(root=scratch.root, format="moodle", to=tmp_path / "m.csv", assignments=[A], out=say)
    canvas = list(csv.reader(open(tmp_path / "c.csv")))
    assert canvas[2][0] == "'=HYPERLINK(1), Eve" and canvas[2][4] == "'@lab"
    assert list(csv.reader(open(tmp_path / "m.csv")))[1][1] == "'=HYPERLINK(1)"
    assert any(line.startswith("warning: no email address for eve; Moodle's import finds students by Email")
               for line in lines)


def test_reading_commands_create_no_course_folder(tmp_path, capsys):
    for command in (["roster"], ["extensions"], ["similarity", A]):
        assert main([*command, "--root", str(tmp_path / "nowhere")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all(e.startswith("error: no course folder") for e in errors)
    assert not (tmp_path / "nowhere").exists()
