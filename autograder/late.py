"""The course's late-work policy, as nbgrader plugins.

:class:`PerDayPenalty` is an nbgrader ``LateSubmissionPlugin``: nbgrader's
``AssignLatePenalties`` step calls it during ``autograde`` with a notebook's
score and how late the submission was (``timestamp.txt`` against the
assignment's due date in the gradebook), and stores the penalty it returns.
:class:`ShowLatePolicy` is a feedback preprocessor that puts the policy, and
how late this submission was, at the top of the student's feedback.
Both are configured in ``nbgrader_config.py``.
"""

from __future__ import annotations

import math

from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

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


class ShowLatePolicy(NbGraderPreprocessor):
    """Feedback step: a first cell stating the late policy and this submission's lateness."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        policy = PerDayPenalty(parent=self)
        lines = [f"**Late work.** {policy.policy()}"]
        try:
            with Gradebook(info["db_url"]) as gradebook:  # as nbgrader's AssignLatePenalties does
                submission = gradebook.find_submission(info["assignment"], info["student"])
                seconds = submission.total_seconds_late
                duedate = submission.duedate
        except (MissingEntry, KeyError):
            seconds, duedate = 0, None
        days = policy.days_late(seconds)
        if duedate is None:
            lines.append("This assignment has no deadline in the gradebook.")
        elif days:
            hours = seconds / 3600.0
            lines.append(f"This submission came {hours:.1f} hours after the deadline ({duedate:%Y-%m-%d %H:%M} UTC): "
                         f"{days} day(s) late, so {min(100.0, days * policy.percent_per_day):g}% of its points "
                         f"were taken off (penalty: {info.get('late_penalty', 0):g} points).")
        else:
            lines.append(f"This submission was on time (deadline {duedate:%Y-%m-%d %H:%M} UTC).")
        nb.cells.insert(0, new_markdown_cell("\n\n".join(lines)))
        return nb, resources
