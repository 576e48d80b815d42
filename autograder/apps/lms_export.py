"""``course export --format canvas|moodle``: grades in the file the LMS's own gradebook import takes.

One row per student on the roster (``course roster import``), one column per
assignment, each cell nbgrader's score after the late penalty and with the
TA's manual grades (``score`` in nbgrader's grades CSV). A rostered student
with no submission gets an empty cell, which both LMSs import as "no grade"
(never a silent 0), and is listed as missing; a submission that could not be
graded is empty too, and listed with why. Students graded but not on the
roster are left out (Moodle refuses a whole file with an unknown student) and
listed.

Layouts, as each LMS documents and writes them itself:

- **Canvas** (its gradebook CSV, as Grades → Export writes it and Grades →
  Import reads it; Canvas's ``GradebookExporter``): ``Student`` (``Last,
  First``), ``ID`` (Canvas's user id), ``SIS User ID``, ``SIS Login ID``,
  ``Section``, then one column per assignment titled ``name (Canvas id)``
  when the roster came from a Canvas export that had that column, else
  ``name``; the second row is ``Points Possible`` with each assignment's
  maximum.
- **Moodle** (its grade export as a plain text file, which its CSV grade
  import reads, identifying users by ``Email address``): ``First name``,
  ``Last name``, ``ID number``, ``Institution``, ``Department``, ``Email
  address`` (Moodle's default export profile fields), then ``Assignment:
  name (Real)`` per assignment. Moodle's ``Last downloaded from this course``
  column is optional and left out.

A cell that starts with ``= + - @`` gets a leading ``'`` so that no
spreadsheet runs a name as a formula.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import MissingEntry

from autograder.apps.arguments import UsageError
from autograder.course import Course
from autograder.roster import load_roster, roster_source

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]
FORMATS = ("canvas", "moodle")


def _number(value: float) -> str:
    """At most two decimals, as Canvas writes them: 10.8, 12, 7.25."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def _text(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def gradebook_scores(course: Course, assignments: list[str]) -> tuple[dict, dict[str, float]]:
    """((assignment, student) → score after the late penalty, assignment → max score), from nbgrader's gradebook."""
    scores, maxima = {}, {}
    with course.gradebook() as gradebook:
        for assignment in assignments:
            try:
                found = gradebook.find_assignment(assignment)
            except MissingEntry:
                maxima[assignment] = 0.0
                continue
            maxima[assignment] = found.max_score
            for submission in found.submissions:
                penalty = submission.late_submission_penalty or 0.0
                scores[(assignment, submission.student.id)] = max(0.0, submission.score - penalty)
    return scores, maxima


def run(*, root: Path | str, format: str, to: Path | str | None = None, assignments: list[str] | None = None,
        out=print) -> int:
    from autograder.feedback_page import recorded_problems

    if format not in FORMATS:
        raise UsageError(f"--format {format!r} is not one of: nbgrader, {', '.join(FORMATS)}")
    course = Course(root)
    roster = load_roster(course.root)
    if not roster:
        raise UsageError(f"no roster in {course.root}: the {format.capitalize()} file needs each student's LMS ids; "
                         "import the class list first (course roster import FILE)")
    with course.gradebook() as gradebook:
        graded = [a.name for a in gradebook.assignments if a.submissions]
    chosen = assignments or graded
    if not chosen:
        raise UsageError("nothing graded yet; grade an assignment first (course grade ASSIGNMENT SUBMISSIONS)")
    scores, maxima = gradebook_scores(course, chosen)
    problems = recorded_problems(course)
    target = Path(to) if to else course.root / f"grades-{format}.csv"
    people = sorted(roster.values(), key=lambda p: (p.last_name.lower(), p.first_name.lower(), p.id))
    if format == "canvas":
        columns = roster_source(course.root).get("lms_assignments") or {}
        titles = [f"{a} ({columns[a]})" if a in columns else a for a in chosen]
        header = CANVAS_HEADER + titles
        second = ["    Points Possible", "", "", "", ""] + [_number(maxima[a]) for a in chosen]
        identity = [lambda p: _text(f"{p.last_name}, {p.first_name}"), lambda p: p.lms_user_id,
                    lambda p: p.sis_user_id, lambda p: p.login, lambda p: _text(p.section)]
    else:
        header = MOODLE_HEADER + [f"Assignment: {a} (Real)" for a in chosen]
        second = None
        identity = [lambda p: _text(p.first_name), lambda p: _text(p.last_name), lambda p: p.lms_user_id,
                    lambda p: "", lambda p: "", lambda p: p.email]
        no_email = [p.id for p in people if not p.email]
        if no_email:
            out(f"warning: no email address for {', '.join(no_email)}; Moodle's import finds students by "
                "Email address (map another column when importing, or import a Moodle class list)")
    missing: dict[str, list[str]] = {a: [] for a in chosen}
    failed: dict[str, list[str]] = {a: [] for a in chosen}
    partial = target.with_name(target.name + ".tmp")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        if second:
            writer.writerow(second)
        for person in people:
            cells = []
            for assignment in chosen:
                score = scores.get((assignment, person.id))
                if score is None:
                    (failed if (assignment, person.id) in problems else missing)[assignment].append(person.id)
                cells.append("" if score is None else _number(score))
            writer.writerow([get(person) for get in identity] + cells)
    partial.replace(target)
    out(f"wrote {target}: {format.capitalize()} grade import, {len(people)} student(s) on the roster, "
        f"{len(chosen)} assignment(s) ({', '.join(chosen)}), scores after late penalties and manual grades")
    for assignment in chosen:
        if missing[assignment]:
            out(f"missing in {assignment} ({len(missing[assignment])}, no submission; left empty, not 0): "
                f"{', '.join(missing[assignment])}")
        for student in failed[assignment]:
            out(f"not graded in {assignment}: {student} ({problems[(assignment, student)]}); left empty")
    outside = sorted({s for (a, s) in scores if s not in roster})
    if outside:
        out(f"graded but not on the roster, so not in the file ({len(outside)}): {', '.join(outside)}")
    return 0
