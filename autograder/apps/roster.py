"""``course roster``: the class list, and ``course roster import FILE`` from the LMS.

``import`` reads a Canvas or Moodle class list (:mod:`autograder.roster` says
which columns), writes every student into nbgrader's gradebook and keeps the
roster; it prints which columns it read, how ids were made, and every row it
did not take. Without ``import``, the roster is listed with each student's
submissions in the gradebook, then the students graded who are not on it.
"""

from __future__ import annotations

from pathlib import Path

from autograder.apps.arguments import UsageError
from autograder.course import Course
from autograder.roster import RosterError, import_roster, load_roster, read_lms_roster, roster_source


def run(*, root: Path | str, file: str | None = None, id_column: str | None = None, out=print) -> int:
    course = Course(root)
    if file is not None:
        try:
            roster = read_lms_roster(Path(file).expanduser(), id_column)
        except RosterError as error:
            raise UsageError(str(error)) from None
        dropped = import_roster(course, roster, Path(file).name)
        out(f"imported {len(roster.students)} student(s) from {Path(file).name} ({roster.lms.capitalize()}) "
            f"into the gradebook of {course.root}")
        out(f"columns read: {', '.join(roster.columns_read)}")
        out(f"student ids from: {roster.id_column}")
        for line in roster.skipped:
            out(f"skipped {line}")
        if dropped:
            out(f"no longer on the roster ({len(dropped)}): {', '.join(dropped)} (their grades stay in the gradebook)")
        return 0
    roster = load_roster(course.root)
    if not roster:
        raise UsageError(f"no roster in {course.root}; import the LMS's class list first: course roster import FILE")
    source = roster_source(course.root)
    with course.gradebook() as gradebook:
        submitted = {}
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                submitted.setdefault(submission.student.id, []).append(assignment.name)
    out(f"{len(roster)} student(s) on the roster, from {source.get('file')} ({source.get('lms')}, "
        f"imported {source.get('imported')}); ids from {source.get('id_column')}")
    width = max(len(s) for s in roster)
    for student, entry in sorted(roster.items()):
        handed_in = ", ".join(sorted(submitted.get(student, []))) or "no submission yet"
        details = "  ".join(part for part in (entry.name, entry.email, entry.section and f"[{entry.section}]") if part)
        out(f"  {student:<{width}}  {details}  — {handed_in}")
    outside = sorted(set(submitted) - set(roster))
    if outside:
        out(f"graded but not on the roster ({len(outside)}): {', '.join(outside)}")
    return 0
