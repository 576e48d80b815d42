"""``course due ASSIGNMENT 'YYYY-MM-DD HH:MM'``: the assignment's deadline in nbgrader's gradebook.

The same due date ``course grade --due`` sets: the late penalty, ``course
serve`` and each student's own deadline (with their extension) count from
it. Graded submissions get their penalties worked out again at once. Without
a date, the due date is shown.
"""

from __future__ import annotations

from pathlib import Path

from autograder.apps.arguments import check_assignment, check_due
from autograder.course import Course


def run(*, root: Path | str, assignment: str, when: str | None = None, out=print) -> int:
    from nbgrader.api import MissingEntry

    from autograder.plugins.late import reapply_late_penalties

    check_assignment(assignment, root)
    due = check_due(when)
    course = Course(root)
    if due is None:
        try:
            with course.gradebook() as gradebook:
                current = gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            current = None
        out(f"{assignment}: " + (f"due {current:%Y-%m-%d %H:%M} UTC" if current else "no due date"))
        return 0
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=due)
        students = [s.student.id for s in gradebook.find_assignment(assignment).submissions]
    changed = reapply_late_penalties(course, assignment, students)
    out(f"{assignment}: due {due:%Y-%m-%d %H:%M} UTC; late penalties worked out again for {len(students)} "
        f"graded submission(s), {len(changed)} changed")
    return 0
