"""Instant-feedback policy, configured in ``nbgrader_config.py`` as ``c.InstantFeedback.*``.

A submission gets instant feedback when its assignment is listed in
``assignments`` and it was submitted before that assignment's
``open_until`` (if any). A student is graded at most
``max_gradings_per_hour`` times per assignment in any ``window_seconds``
(an hour unless a test shortens it); a submission over the limit waits in
the queue until the oldest grading in the window is ``window_seconds`` old.

Fair share: however many assignments are open, a student is graded at most
``max_gradings_per_student`` times in the window (all assignments together)
and at most ``max_concurrent_per_student`` at a time; workers go round the
students (:meth:`InstantFeedback.fair_order`: who has fewest gradings
running, then who was served longest ago), so one student's many
submissions delay another's first by at most one grading.

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
    max_gradings_per_student = Int(6, help="Gradings per student within window_seconds, all assignments "
                                           "together.").tag(config=True)
    max_concurrent_per_student = Int(1, help="Gradings of one student running at the same time.").tag(config=True)
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
        return self._slot(recent, now, self.max_gradings_per_hour)

    def next_student_slot(self, recent: list[float], now: float) -> float | None:
        """The same for the student's gradings of every assignment (*recent*), under ``max_gradings_per_student``."""
        return self._slot(recent, now, self.max_gradings_per_student)

    def _slot(self, recent: list[float], now: float, limit: int) -> float | None:
        inside = sorted(t for t in recent if t > now - self.window_seconds)
        if len(inside) < limit:
            return None
        return inside[len(inside) - limit] + self.window_seconds

    @staticmethod
    def fair_order(waiting: dict[str, float], running: dict[str, int], last_served: dict[str, float]) -> list[str]:
        """Students in the order workers go to them: fewest gradings running, then served longest ago
        (never served first), then whose submission has waited longest (*waiting*: student → its time)."""
        return sorted(waiting, key=lambda student: (running.get(student, 0), last_served.get(student, 0.0),
                                                    waiting[student], student))
