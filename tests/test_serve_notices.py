"""What `course serve` tells a student before the feedback: a waiting page, and "no instant feedback here".

Real nbgrader exchange, nbgrader's own submit and fetch_feedback (tests/test_serve.py's
``Exchange``); the service runs as a ``course serve`` subprocess or in this process.
"""

from __future__ import annotations

import signal
import time

import pytest

from autograder.service import notices
from tests.test_serve import A, Exchange, page_score, wait_for
from tests.conftest import needs_sandbox

pytestmark = [pytest.mark.sandbox, needs_sandbox]


def test_the_expected_time_counts_the_submissions_ahead_and_the_workers():
    events = [("a", "dispatched", 100.0, None), ("a", "graded", 130.0, None),
              ("b", "dispatched", 200.0, None), ("b", "graded", 250.0, None),
              ("c", "dispatched", 300.0, None), ("c", "graded", 340.0, None)]
    assert notices.typical_grading_seconds(events) == 40.0
    assert notices.typical_grading_seconds([]) == notices.DEFAULT_GRADING_SECONDS
    assert notices.expected_at(1000.0, 5, 2, 40.0) == 1000.0 + 3 * 40.0
    page = notices.waiting(A, 0.0, 5, 120.0)
    assert "number 5 in the queue" in page and "00:02 UTC" in page and "Fetch Feedback again" in page
    assert "<script" not in page and "default-src 'none'" in page


def latest(ex: Exchange, student: str) -> str:
    """The student's latest feedback page; "" while the exchange has no feedback folder yet."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    try:
        return ex.latest_feedback(student)
    except ExchangeError:
        return ""


def test_a_queued_submission_gets_a_waiting_page_within_two_seconds_then_its_feedback(tmp_path):
    ex = Exchange(tmp_path)
    log = tmp_path / "serve.log"
    server = ex.start(log, workers=1)
    try:
        wait_for(lambda: log.exists() and "course serve:" in log.read_text(), 120, "the service to start")
        time.sleep(2)   # past its warm-up
        ex.submit("wes", ex.solved())
        submitted = time.monotonic()
        wait_for(lambda: "in the queue" in latest(ex, "wes") or "Score:" in latest(ex, "wes"), 30, "the waiting page")
        waited = time.monotonic() - submitted
        first = latest(ex, "wes")
        assert "Score:" not in first, "graded before the waiting page could be seen: nothing was tested"
        assert waited <= 2.0, f"the waiting page came {waited:.1f} s after submitting"
        assert "number 1 in the queue" in first and "Press Fetch Feedback again then" in first
        wait_for(lambda: "Score:" in latest(ex, "wes"), 300, "the feedback to replace the waiting page")
        page = ex.latest_feedback("wes")
        assert "in the queue" not in page and page_score(page)[0] > 0
        assert "received, number 1 in the queue, feedback expected around" in log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)


def test_a_submission_for_an_assignment_without_instant_feedback_is_told_and_logged(tmp_path):
    ex = Exchange(tmp_path, **{"InstantFeedback.assignments": ["01-linear-classifier"]})
    ex.submit("una", ex.solved())
    text = ex.serve_once()
    assert f"una {A}: not open for instant feedback" in text, text
    page = ex.latest_feedback("una")
    assert "not open for instant feedback" in page and "is kept" in page and "Score:" not in page
    assert ex.score("una") is None   # nothing was graded
    journal = ex.journal()
    try:
        entry = journal.of_student("una", A)[-1]
        assert entry.state == "closed" and entry.notice == "not-instant"
    finally:
        journal.close()
    again = ex.serve_once()   # told once, not on every look
    assert "not open for instant feedback" not in again
