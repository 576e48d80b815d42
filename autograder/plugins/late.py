"""The course's late-work policy, as nbgrader plugins, and where times come from.

Times come from trusted sources only (see :mod:`autograder.intake`): intake
writes the submission time it trusts as nbgrader's ``timestamp.txt`` in
``submitted/<student>/<assignment>/`` (never the student's own), and records
an LMS's late marker that carries no time (Canvas's ``LATE``) in
``.grading/<assignment>-times.json``. A marked submission counts as at least
one day late.

- :class:`PerDayPenalty` is an nbgrader ``LateSubmissionPlugin``: the share of
  the earned score lost per started day late.
- :class:`AssignTrustedLatePenalties` replaces nbgrader's
  ``AssignLatePenalties`` in ``autograde``: the same step, with the gradebook's
  submission time taken from the trusted ``timestamp.txt`` and the late marker
  counted.
- :func:`reapply_late_penalties` recomputes the penalties of already graded
  submissions (a new ``--due``) in the gradebook, without executing anything,
  and rewrites their feedback.
- :class:`ShowLatePolicy` is a feedback step that puts the policy, and how late
  this submission was, at the top of the student's feedback.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties, NbGraderPreprocessor
from nbgrader.utils import parse_utc
from sqlalchemy.exc import OperationalError
from traitlets import Float

from autograder.deadlines import apply_to_submission as apply_extension

DAY = 86_400.0


class PerDayPenalty(LateSubmissionPlugin):
    """Lose a share of the earned score for every day (or part of a day) late."""

    percent_per_day = Float(10.0, help="Percent of the earned score lost per started day late.").tag(config=True)
    grace_minutes = Float(15.0, help="Lateness that costs nothing (clock skew, upload time).").tag(config=True)

    def days_late(self, total_seconds_late: float) -> int:
        """Started days late, after the grace period (0 when on time)."""
        late = total_seconds_late - 60.0 * self.grace_minutes
        return math.ceil(late / DAY) if late > 0 else 0

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        share = min(1.0, self.days_late(total_seconds_late) * self.percent_per_day / 100.0)
        return round(score * share, 2)

    def policy(self) -> str:
        full = math.ceil(100.0 / self.percent_per_day) if self.percent_per_day > 0 else None
        text = (f"Late work loses {self.percent_per_day:g}% of the points it earns for every day or part of a day "
                f"after the deadline (the first {self.grace_minutes:g} minutes are free)")
        return text + (f"; from day {full} on it earns nothing." if full else ".")


# -- trusted times -------------------------------------------------------------

def times_file(root: Path, assignment: str) -> Path:
    return Path(root) / ".grading" / f"{assignment}-times.json"


def read_times(root: Path, assignment: str) -> dict[str, dict]:
    """student → {"late_marker": bool, "source": where the time came from}."""
    path = times_file(root, assignment)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def record_times(root: Path, assignment: str, entries: dict[str, dict]) -> None:
    """Merge *entries* into the times record (atomically)."""
    if not entries:
        return
    path = times_file(root, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = {**read_times(root, assignment), **entries}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(merged, indent=1, sort_keys=True))
    os.replace(partial, path)


def trusted_timestamp(coursedir: CourseDirectory, assignment: str, student: str):
    """The submission time intake wrote (nbgrader's ``timestamp.txt``), or None."""
    path = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)) / "timestamp.txt"
    try:
        text = path.read_text().strip()
        return parse_utc(text) if text else None
    except (OSError, ValueError, OverflowError):
        return None


def effective_seconds_late(submission, late_marker: bool) -> float:
    """nbgrader's seconds late, or one day when the LMS marked it late without a time."""
    return max(submission.total_seconds_late, DAY if late_marker else 0.0)


def _assign(gradebook: Gradebook, plugin, coursedir: CourseDirectory, assignment: str, student: str,
            notebooks: list[str] | None = None) -> bool:
    """Set the trusted time and the penalty of each notebook; True if anything changed."""
    submission = gradebook.find_submission(assignment, student)
    changed = apply_extension(coursedir.root, assignment, student, submission)   # the student's own deadline
    timestamp = trusted_timestamp(coursedir, assignment, student)  # naive UTC, as nbgrader stores it
    if submission.timestamp != timestamp:
        submission.timestamp, changed = timestamp, True
    marker = bool(read_times(coursedir.root, assignment).get(student, {}).get("late_marker"))
    seconds = effective_seconds_late(submission, marker)
    for notebook in submission.notebooks:
        if notebooks is not None and notebook.name not in notebooks:
            continue
        penalty = None
        if seconds > 0:
            penalty = plugin.late_submission_penalty(student, notebook.score, seconds)
            if penalty is not None:
                penalty = min(max(0.0, penalty), notebook.score)
        if (notebook.late_submission_penalty or 0) != (penalty or 0):
            notebook.late_submission_penalty, changed = penalty, True
    if changed:
        gradebook.db.commit()
    else:
        gradebook.db.rollback()   # nothing to write: no write lock taken
    return changed


def _assign_retrying(gradebook: Gradebook, *args, **kwargs) -> bool:
    """:func:`_assign`, again after a moment when another worker's write got in between (SQLite)."""
    for attempt in range(6):
        try:
            return _assign(gradebook, *args, **kwargs)
        except OperationalError:
            gradebook.db.rollback()
            if attempt == 5:
                raise
            time.sleep(0.5 * (attempt + 1))
    return False


class AssignTrustedLatePenalties(AssignLatePenalties):
    """nbgrader's ``AssignLatePenalties`` with the time intake trusts and the LMS's late marker."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.init_plugin()
        coursedir = CourseDirectory(config=self.config)
        with Gradebook(info["db_url"]) as gradebook:
            _assign_retrying(gradebook, self.plugin_inst, coursedir, info["assignment"], info["student"],
                             [info["notebook"]])
        return nb, resources


def reapply_late_penalties(course, assignment: str, students: list[str]) -> list[str]:
    """Recompute the late penalties of graded *students* (after a new due date or time).

    Nothing is executed: the gradebook's submission time and each notebook's
    penalty are set again, and feedback is rewritten for those that changed.
    Returns the students whose penalty or time changed.
    """
    plugin = AssignLatePenalties(config=course.config).plugin_class(config=course.config)
    changed = []
    with course.gradebook() as gradebook:
        for student in students:
            try:
                if _assign_retrying(gradebook, plugin, course.coursedir, assignment, student):
                    changed.append(student)
            except MissingEntry:
                continue
    for student in changed:
        if course.path("autograded", student, assignment).is_dir():
            course.generate_feedback(assignment, student)
    return changed


def late_summary(course, assignment: str, student: str) -> tuple[float, float, str | None] | None:
    """(score after penalty, max score, "late by N day(s): −X" or None), from the gradebook."""
    plugin = AssignLatePenalties(config=course.config).plugin_class(config=course.config)
    marker = bool(read_times(course.root, assignment).get(student, {}).get("late_marker"))
    with course.gradebook() as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return None
        penalty = submission.late_submission_penalty or 0.0
        seconds = effective_seconds_late(submission, marker)
        score, max_score = max(0.0, submission.score - penalty), submission.max_score
    days = plugin.days_late(seconds) if hasattr(plugin, "days_late") else math.ceil(seconds / DAY)
    if not days and not penalty:   # on time, or within the grace period
        return score, max_score, None
    how = "marked late by the LMS (no time given)" if marker and submission.total_seconds_late < DAY else \
        f"late by {days} day(s)"
    return score, max_score, f"{how}: −{penalty:g}"


class ShowLatePolicy(NbGraderPreprocessor):
    """Feedback step: a first cell stating the late policy and this submission's lateness."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        policy = PerDayPenalty(parent=self)
        lines = [f"**Late work.** {policy.policy()}"]
        root = CourseDirectory(config=self.config).root
        marker = bool(read_times(root, info.get("assignment", "")).get(info.get("student", ""), {}).get("late_marker"))
        try:
            with Gradebook(info["db_url"]) as gradebook:  # as nbgrader's AssignLatePenalties does
                submission = gradebook.find_submission(info["assignment"], info["student"])
                seconds, duedate = submission.total_seconds_late, submission.duedate
                extended = submission.extension is not None
                days = policy.days_late(effective_seconds_late(submission, marker))
        except (MissingEntry, KeyError):
            seconds, duedate, days, extended = 0, None, 0, False
        penalty = f"(penalty: {info.get('late_penalty', 0):g} points)"
        if marker and seconds < DAY:
            lines.append(f"The course's LMS marked this submission late and gave no time: it counts as "
                         f"{days} day(s) late, so {min(100.0, days * policy.percent_per_day):g}% of its points "
                         f"were taken off {penalty}.")
        elif duedate is None:
            return nb, resources   # no deadline: the late policy does not apply, so it is not shown
        elif days:
            hours = seconds / 3600.0
            lines.append(f"This submission came {hours:.1f} hours after the deadline ({duedate:%Y-%m-%d %H:%M} UTC): "
                         f"{days} day(s) late, so {min(100.0, days * policy.percent_per_day):g}% of its points "
                         f"were taken off {penalty}.")
        else:
            lines.append(f"This submission was on time (deadline {duedate:%Y-%m-%d %H:%M} UTC).")
        if extended and duedate is not None:   # nbgrader's duedate already includes it; say whose date it is
            lines.append(f"Your own deadline, with the extension you were given, is {duedate:%Y-%m-%d %H:%M} UTC.")
        nb.cells.insert(0, new_markdown_cell("\n\n".join(lines)))
        return nb, resources
