"""Each student's own deadline: the assignment's due date plus their extension.

The due date of an assignment is nbgrader's (``Assignment.duedate`` in the
gradebook: ``course grade --due``, ``course due`` or formgrader). An
extension is granted to one student for one assignment (``course extend
02-signals amy --days 3 --reason medical``); a *standing accommodation* to
one student for every assignment, those created later included (``course
extend --all amy --days 2``). When a student has both, the longer one
applies: an accommodation is a floor, never added to a one-off extension.

Why the course keeps its own record rather than only nbgrader's
``SubmittedAssignment.extension``: nbgrader's field lives on the submission
row, which exists only once the student has submitted (an extension is
usually granted before) and is dropped with the assignment's grades when a
changed assignment is regraded; and nbgrader has no place for a standing
accommodation. So the record is ``.grading/extensions.json`` in the course
folder, and :func:`apply_to_submission` copies the student's extension into
nbgrader's field whenever a late penalty is worked out
(:mod:`autograder.plugins.late`), so ``total_seconds_late``, the penalty,
formgrader and the feedback all count from the student's own deadline.

Reasons are for the course staff: ``course extensions`` lists them, no
student page shows them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: Where the record lives inside a course folder.
RECORD = Path(".grading") / "extensions.json"
#: The key of standing accommodations (never an assignment id: those have no spaces).
EVERY_ASSIGNMENT = "every assignment"


@dataclass(frozen=True)
class Extension:
    student: str
    assignment: str          # an assignment id, or EVERY_ASSIGNMENT
    days: float
    reason: str = ""
    granted: str = ""        # when it was granted (UTC, ISO)

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def standing(self) -> bool:
        return self.assignment == EVERY_ASSIGNMENT


def record_path(root: Path | str) -> Path:
    return Path(root) / RECORD


def _read(root: Path | str) -> dict[str, dict[str, dict]]:
    try:
        data = json.loads(record_path(root).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(root: Path | str, data: dict) -> None:
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(partial, path)


def grant(root: Path | str, assignment: str, student: str, days: float, reason: str = "") -> Extension:
    """Record an extension (*assignment* = EVERY_ASSIGNMENT: a standing accommodation).

    A new grant for the same student and assignment replaces the old one;
    ``days=0`` removes it.
    """
    data = _read(root)
    granted = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    entries = data.setdefault(assignment, {})
    if days:
        entries[student] = {"days": float(days), "reason": reason, "granted": granted}
    else:
        entries.pop(student, None)
        if not entries:
            data.pop(assignment)
    _write(root, data)
    return Extension(student, assignment, float(days), reason, granted)


def all_extensions(root: Path | str) -> list[Extension]:
    """Every recorded extension, standing accommodations first, then by assignment and student."""
    found = []
    for assignment, entries in _read(root).items():
        for student, entry in (entries or {}).items():
            try:
                found.append(Extension(student, assignment, float(entry["days"]), str(entry.get("reason", "")),
                                       str(entry.get("granted", ""))))
            except (KeyError, TypeError, ValueError):
                continue   # a hand-edited entry that says nothing usable
    return sorted(found, key=lambda e: (not e.standing, e.assignment, e.student))


def extension_for(root: Path | str, assignment: str, student: str) -> Extension | None:
    """The extension that applies to *student* on *assignment*: the longer of the one-off and the standing one."""
    data = _read(root)
    candidates = []
    for key in (assignment, EVERY_ASSIGNMENT):
        entry = (data.get(key) or {}).get(student)
        if entry:
            try:
                candidates.append(Extension(student, key, float(entry["days"]), str(entry.get("reason", "")),
                                            str(entry.get("granted", ""))))
            except (KeyError, TypeError, ValueError):
                continue
    return max(candidates, key=lambda e: e.days, default=None)


def extra_time(root: Path | str, assignment: str, student: str) -> timedelta:
    """How much later than the class *student*'s deadline for *assignment* is (zero without an extension)."""
    extension = extension_for(root, assignment, student)
    return extension.delta if extension else timedelta(0)


def due_for(class_due: datetime | None, root: Path | str, assignment: str, student: str) -> datetime | None:
    """*student*'s own deadline: the class's due date plus their extension (None: no deadline)."""
    return None if class_due is None else class_due + extra_time(root, assignment, student)


def apply_to_submission(root: Path | str, assignment: str, student: str, submission) -> bool:
    """Copy the student's extension into nbgrader's ``SubmittedAssignment.extension``; True if it changed.

    nbgrader adds the extension to the assignment's due date, so it is set only
    when the assignment has one.
    """
    has_due = submission.assignment.duedate is not None
    wanted = extra_time(root, assignment, student) if has_due else timedelta(0)
    wanted = wanted or None
    if submission.extension != wanted:
        submission.extension = wanted
        return True
    return False


def share_record(root: Path | str, other_root: Path | str) -> None:
    """Give another course folder of the same class (``course serve``'s after-deadline one) the same record."""
    source, target = record_path(root), record_path(other_root)
    if source.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target.with_suffix(".tmp"))
        os.replace(target.with_suffix(".tmp"), target)
    elif target.exists():
        target.unlink()


@dataclass(frozen=True)
class StudentDeadline:
    """One graded submission against its student's own deadline."""

    student: str
    due: datetime | None            # the student's own deadline
    extension: Extension | None
    submitted: datetime | None
    seconds_late: float


def class_deadlines(course, assignment: str) -> tuple[datetime | None, list[StudentDeadline]]:
    """The assignment's due date and every graded submission against its student's own deadline."""
    from nbgrader.api import MissingEntry

    rows = []
    with course.gradebook() as gradebook:
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            return None, []
        class_due = found.duedate
        for submission in found.submissions:
            student = submission.student.id
            own = due_for(class_due, course.root, assignment, student)
            late = max(0.0, (submission.timestamp - own).total_seconds()) if own and submission.timestamp else 0.0
            rows.append(StudentDeadline(student, own, extension_for(course.root, assignment, student),
                                        submission.timestamp, late))
    return class_due, sorted(rows, key=lambda r: r.student)
