"""``course extensions``: every extension and standing accommodation, with each student's own deadline."""

from __future__ import annotations

from pathlib import Path

from autograder import deadlines
from autograder.apps.extend import describe_due
from autograder.course import Course


def run(*, root: Path | str, assignment: str | None = None, out=print) -> int:
    course = Course(root)
    granted = [e for e in deadlines.all_extensions(course.root)
               if assignment is None or e.assignment in (assignment, deadlines.EVERY_ASSIGNMENT)]
    if not granted:
        out("no extensions granted" + (f" for {assignment}" if assignment else "")
            + "; grant one with course extend ASSIGNMENT STUDENT --days N --reason TEXT")
        return 0
    with course.gradebook() as gradebook:
        known = [a.name for a in gradebook.assignments]
    for extension in granted:
        reason = f" — {extension.reason}" if extension.reason else ""
        out(f"{extension.student}: +{extension.days:g} day(s) on {extension.assignment}{reason} "
            f"(granted {extension.granted} UTC)")
        for name in ([assignment] if assignment else known) if extension.standing else [extension.assignment]:
            if name in known:
                out(f"    {name}: {describe_due(course, name, extension.student)}")
    return 0
