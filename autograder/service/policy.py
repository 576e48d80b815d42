"""Instant-feedback policy, configured in ``nbgrader_config.py`` as ``c.InstantFeedback.*``.

A submission gets instant feedback when its assignment is listed in
``assignments`` and it was submitted before that assignment's
``open_until`` (if any). A student is graded at most
``max_gradings_per_hour`` times per assignment in any ``window_seconds``
(an hour unless a test shortens it); a submission over the limit waits in
the queue until the oldest grading in the window is ``window_seconds`` old.
After ``max_gradings_per_assignment`` instant gradings of one assignment a
student's later submissions are kept for the course staff, as after
``open_until``: the total bounds how many answers a search for a hidden value
can try (README, "Hidden checks stay hidden").
"""

from __future__ import annotations

from datetime import datetime, timezone

from traitlets import Dict, Float, Int, List, Unicode
from traitlets.config import Configurable


def parse_when(text: str) -> datetime:
    """``'2026-03-01 23:59'`` (UTC unless it says otherwise) → an aware datetime."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class InstantFeedback(Configurable):
    """Which submissions ``course serve`` grades at once, and how often."""

    assignments = List(Unicode(), help="Assignment ids open for instant feedback.").tag(config=True)
    open_until = Dict(value_trait=Unicode(), default_value={},
                      help="Assignment id → last moment (UTC, 'YYYY-MM-DD HH:MM') a submission gets instant "
                           "feedback; later ones are left for the TA. Missing: no end.").tag(config=True)
    max_gradings_per_hour = Int(3, help="Gradings per student and assignment within window_seconds.").tag(config=True)
    window_seconds = Float(3600.0, help="The rate-limit window (an hour).").tag(config=True)
    max_gradings_per_assignment = Int(
        60, help="Instant gradings per student and assignment in all (0: no total); later submissions are kept "
                 "and graded by the course staff.").tag(config=True)
    poll_seconds = Float(0.5, help="How often the exchange's inbound folder is looked at.").tag(config=True)

    def is_listed(self, assignment: str) -> bool:
        return assignment in self.assignments

    def closes(self, assignment: str) -> datetime | None:
        text = self.open_until.get(assignment)
        return parse_when(text) if text else None

    def is_open(self, assignment: str, submitted: datetime) -> bool:
        closes = self.closes(assignment)
        return closes is None or submitted <= closes

    def used_up(self, gradings: int) -> bool:
        """Whether a student who has had *gradings* instant gradings of an assignment may have no more."""
        return 0 < self.max_gradings_per_assignment <= gradings

    def next_slot(self, recent: list[float], now: float) -> float | None:
        """When the next grading may start (epoch seconds), or None if it may start now.

        *recent*: start times of this student's gradings of the assignment.
        """
        inside = sorted(t for t in recent if t > now - self.window_seconds)
        if len(inside) < self.max_gradings_per_hour:
            return None
        return inside[len(inside) - self.max_gradings_per_hour] + self.window_seconds
