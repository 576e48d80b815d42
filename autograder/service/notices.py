"""What the service itself tells a student, as feedback pages.

A *notice* is a whole page released in place of graded feedback (the
submission waits for the rate limit, was superseded by a later one, came
after instant feedback closed, or could not be graded). A *banner* is a short
box put at the top of nbgrader's own feedback page (when it was graded, how
many gradings are left this hour, whether this grade counts). Everything is
HTML-escaped; the pages forbid scripts.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STYLE = ("font-family: sans-serif; border: 2px solid #4a6fa5; background: #eef3fb; padding: 0.8em 1.2em; "
         "margin: 1em; border-radius: 6px; line-height: 1.4")


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _box(title: str, lines: list[str]) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return f'<div class="course-serve-notice" style="{STYLE}"><h3>{html.escape(title)}</h3>{body}</div>'


def page(title: str, lines: list[str]) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title></head><body>{_box(title, lines)}</body></html>")


def with_banner(feedback: str, title: str, lines: list[str]) -> str:
    """nbgrader's feedback page with a box at the top of its body."""
    box = _box(title, lines)
    match = re.search(r"<body[^>]*>", feedback, flags=re.IGNORECASE)
    if not match:
        return box + feedback
    return feedback[:match.end()] + box + feedback[match.end():]


def deferred(assignment: str, limit: int, window_seconds: float, at: float, all_assignments: bool = False) -> str:
    window = f"{window_seconds / 3600:g} hour" if window_seconds >= 3600 else f"{window_seconds:g} seconds"
    what = "of all assignments together" if all_assignments else f"of {assignment}"
    return page(f"{assignment}: received, graded at {when(at)}", [
        f"Your submission is kept. You have had {limit} instant grading(s) {what} in the last {window}, "
        f"the most the course allows, so this one will be graded at about {when(at)}.",
        "Fetch feedback again after that time to see it. If you submit again before then, only your latest "
        "submission is graded.",
        "The limit keeps the feedback a guide rather than a guessing game: read the messages, fix the cause, "
        "run the visible checks yourself, then submit."])


def superseded(assignment: str, later: str) -> str:
    return page(f"{assignment}: replaced by a later submission", [
        f"You submitted {assignment} again (at {later}) before this submission was graded, so only the later "
        "one is graded. Its feedback is listed under its own time stamp."])


def closed(assignment: str, closes: datetime) -> str:
    return page(f"{assignment}: instant feedback has closed", [
        f"Instant feedback for {assignment} ended at {closes:%Y-%m-%d %H:%M} UTC. Your submission is kept "
        "and will be graded by the course staff; the feedback comes with the rest of the class."])


def used_up(assignment: str, total: int) -> str:
    return page(f"{assignment}: no instant gradings left", [
        f"You have had {total} instant gradings of {assignment}, the most the course allows for one assignment. "
        "Your submission is kept and will be graded by the course staff; the feedback comes with the rest of the "
        "class.",
        "Use the visible checks in the notebook (Validate) to test further changes."])


def not_graded(assignment: str, problem: str) -> str:
    return page(f"{assignment}: this submission could not be graded", [
        problem, "Nothing else was changed. Fix the notebook (Kernel → Restart Kernel and Run All Cells, then "
        "Validate) and submit again."])


# -- while a submission waits, and for an assignment without instant feedback ----------

#: Seconds one grading takes, until the service has timed some of its own.
DEFAULT_GRADING_SECONDS = 60.0


def typical_grading_seconds(events: list[tuple[str, str, float, str | None]], recent: int = 20) -> float:
    """The median time from dispatch to graded over the *recent* last gradings in the journal's events."""
    started: dict[str, float] = {}
    took: list[float] = []
    for name, event, at, _ in events:
        if event == "dispatched":
            started.setdefault(name, at)
        elif event == "graded" and name in started:
            took.append(at - started.pop(name))
    took = sorted(took[-recent:])
    return took[len(took) // 2] if took else DEFAULT_GRADING_SECONDS


def expected_at(received: float, position: int, workers: int, seconds_each: float) -> float:
    """When the feedback of the *position*-th submission in the queue should be out."""
    rounds = -(-max(1, position) // max(1, workers))   # ceil: submissions ahead share the workers
    return received + rounds * seconds_each


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M UTC")


def waiting(assignment: str, received: float, position: int, expected: float) -> str:
    """Released at once when a submission is queued; the real feedback replaces it."""
    return page(f"{assignment}: received, feedback expected around {_clock(expected)}", [
        f"Your submission was received at {datetime.fromtimestamp(received, timezone.utc):%H:%M:%S} UTC. "
        f"It is number {position} in the queue; its feedback is expected around {_clock(expected)}.",
        "Press Fetch Feedback again then: this page will have been replaced by your feedback. "
        "If you submit again before then, only your latest submission is graded."])


def not_instant(assignment: str, due: datetime | None) -> str:
    """For a submission of an assignment that is not open for instant feedback."""
    when = (f"after the deadline ({due:%Y-%m-%d %H:%M} UTC), with the rest of the class" if due is not None
            else "by the course staff with the rest of the class")
    return page(f"{assignment}: received; no instant feedback for this assignment", [
        f"Your submission of {assignment} is kept. This assignment is not open for instant feedback, so it is "
        f"not graded now: it will be graded {when}, and its feedback comes then.",
        "If you meant another assignment, check its name in the assignment list and submit that one."])
