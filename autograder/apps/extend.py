"""``course extend ASSIGNMENT STUDENT --days N --reason TEXT``: one student's own deadline.

``--all`` in place of an assignment grants a standing accommodation (every
assignment, those created later included). ``--days 0`` takes an extension
back. Penalties of what the student has already had graded are worked out
again at once (nothing is executed) and their feedback rewritten, so the
gradebook, exports and feedback agree with the new deadline.
"""

from __future__ import annotations

from pathlib import Path

from autograder import deadlines
from autograder.apps.arguments import UsageError, check_assignment
from autograder.course import Course
from autograder.roster import load_roster
from autograder.safefiles import student_id_problem


def describe_due(course: Course, assignment: str, student: str) -> str:
    """``due 2026-03-04 23:59 UTC (class: 2026-03-01 23:59 UTC, +3 days)``, or that there is no due date yet."""
    from nbgrader.api import MissingEntry

    try:
        with course.gradebook() as gradebook:
            class_due = gradebook.find_assignment(assignment).duedate
    except MissingEntry:
        class_due = None
    extra = deadlines.extra_time(course.root, assignment, student)
    plus = f"+{extra.total_seconds() / 86400:g} day(s)" if extra else "no extension"
    if class_due is None:
        return f"no due date yet ({plus} once it has one: course due {assignment} 'YYYY-MM-DD HH:MM')"
    own = deadlines.due_for(class_due, course.root, assignment, student)
    return f"due {own:%Y-%m-%d %H:%M} UTC (class: {class_due:%Y-%m-%d %H:%M} UTC, {plus})"


def run(*, root: Path | str, student: str, days: float, assignment: str | None = None, every: bool = False,
        reason: str = "", out=print) -> int:
    from autograder.plugins.late import reapply_late_penalties

    if every == (assignment is not None):
        raise UsageError("give one assignment (course extend 02-signals amy --days 3) or --all for a standing "
                         "accommodation (course extend --all amy --days 2), not both")
    if assignment is not None:
        check_assignment(assignment, root)
    problem = student_id_problem(student)
    if problem:
        raise UsageError(f"{problem}; give the student's id as the roster lists it (course roster)")
    if not 0 <= days <= 365:
        raise UsageError(f"--days {days:g} is not between 0 and 365; give the extra time in days, e.g. --days 3 "
                         "(0 takes the extension back)")
    course = Course(root)
    roster = load_roster(course.root)
    if roster and student not in roster:
        out(f"warning: {student} is not on the roster (course roster lists it); the extension is recorded anyway")
    key = deadlines.EVERY_ASSIGNMENT if every else assignment
    deadlines.grant(course.root, key, student, days, reason)
    what = "standing accommodation" if every else "extension"
    if days:
        out(f"{student}: {what} of {days:g} day(s) on {key}" + (f" ({reason})" if reason else ""))
    else:
        out(f"{student}: {what} on {key} taken back")
    with course.gradebook() as gradebook:
        known = [a.name for a in gradebook.assignments]
    for name in (known if every else [assignment]):
        if name in known or not every:
            out(f"  {name}: {describe_due(course, name, student)}")
        changed = reapply_late_penalties(course, name, [student]) if name in known else []
        if changed:
            out(f"  {name}: the late penalty of the graded submission was worked out again, feedback rewritten")
    return 0
