"""The job a grading worker runs for one submission, and the worker pool.

:func:`grade_one` holds the submission's lock (shared with ``course grade``,
:func:`autograder.pipeline.student_lock`) while it collects the submission
with the course's vetted ``ExchangeCollect`` (:mod:`autograder.service.exchange`), tidies it as every intake does
(:func:`autograder.intake.tidy_submission`) and grades it with
:func:`autograder.pipeline.grade_submission` — the sandboxed autograde and
feedback of ``course grade``. Run again for a submission whose grading and
feedback are already complete (a restart after ``kill -9``), it grades
nothing and reports what the gradebook holds.
"""

from __future__ import annotations

import concurrent.futures as futures
import ctypes
import multiprocessing
import signal
import time
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.utils import parse_utc

from autograder.intake import set_aside_extras, tidy_submission
from autograder.preflight import inspect_submission
from autograder.safefiles import UnsafeSubmission, read_student_file
from autograder.pipeline import _worker_course, grade_submission, student_lock
from autograder.service import exchange
from autograder.service.exchange import SECRET, TIMESTAMP


def _die_with_parent() -> None:
    """Pool initializer: a worker ends when the service is killed (Linux), so no orphan grades on."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C stops the service, which stops the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pool(workers: int) -> futures.ProcessPoolExecutor:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                       initializer=_die_with_parent)


def warm(root: str, overrides: dict) -> float:
    """Load the course and the grading code in a worker before the first submission arrives."""
    start = time.perf_counter()
    import nbconvert.exporters.html  # noqa: F401  (feedback)
    import pytest  # noqa: F401  (the keys)

    import autograder.preprocessors.judge  # noqa: F401

    _worker_course(root, overrides)
    time.sleep(0.5)   # keep this worker busy so the next warm-up goes to another
    return time.perf_counter() - start


def finished(course, assignment: str, student: str, secret: str) -> bool:
    """The gradebook and feedback/ already hold this very submission (its secret), graded to the end."""
    feedback = course.path("feedback", student, assignment)
    try:
        if (feedback / SECRET).read_text() != secret or _submitted_secret(course, assignment, student) != secret:
            return False
        timestamp = parse_utc((feedback / TIMESTAMP).read_text().strip())
    except (OSError, ValueError, UnsafeSubmission):
        return False
    if not all((feedback / f"{name}.html").exists() for name in course.notebooks(assignment)):
        return False
    try:
        with course.gradebook() as gradebook:
            submission = gradebook.find_submission(assignment, student)
            return submission.timestamp == timestamp.replace(tzinfo=None)
    except MissingEntry:
        return False


def _submitted_secret(course, assignment: str, student: str) -> str:
    """The secret copied into ``submitted/`` with the student's files (read as a student's file)."""
    raw = read_student_file(course.path("submitted"), student, assignment, SECRET, max_bytes=exchange.MAX_SECRET_BYTES)
    return raw.decode("ascii", "replace")


def grade_one(root: str, overrides: dict, name: str, secret: str) -> dict:
    """Collect inbound folder *name* into the course at *root* and grade it (in a worker)."""
    start = time.perf_counter()
    student, assignment, _ = exchange.parse_name(name)
    course = _worker_course(root, overrides)
    with student_lock(root, assignment, student):
        if finished(course, assignment, student, secret):
            score = course.score(assignment, student)
            return {"student": student, "score": score.score if score else None,
                    "max_score": score.max_score if score else None, "problem": None, "notes": [],
                    "seconds": time.perf_counter() - start, "skipped": True}
        folder, refused = exchange.collect(course.config, name)
        if refused:   # a link, a special file, someone else's files: nothing it points at was read
            return {"student": student, "score": None, "max_score": None, "notes": [], "problem": refused,
                    "seconds": time.perf_counter() - start, "student_message": True}
        try:
            copied = _submitted_secret(course, assignment, student)
        except (OSError, UnsafeSubmission):
            copied = None
        if copied != secret:
            return {"student": student, "score": None, "max_score": None, "notes": [], "seconds": 0.0,
                    "problem": "the collected folder is not this submission", "retry": True}
        notes = set_aside_extras(course, assignment, student) + tidy_submission(folder, course.notebooks(assignment))
        result = grade_submission(root, assignment, student, overrides)
        if result.get("problem"):   # a notebook nbgrader cannot read: the preflight line is for the student too
            sources = {nb: nbformat.read(str(course.path("source", assignment, f"{nb}.ipynb")), as_version=4)
                       for nb in course.notebooks(assignment)}
            findings = inspect_submission(folder, sources)
            if findings.fatal:
                result["problem"], result["student_message"] = findings.summary(), True
    result["notes"] = notes + list(result.get("notes", []))
    result["seconds"] = time.perf_counter() - start
    return result


def feedback_pages(root: Path, course, assignment: str, student: str, secret: str) -> dict[str, str] | None:
    """notebook id → the feedback HTML nbgrader wrote for this submission (None if it is not there)."""
    folder = course.path("feedback", student, assignment)
    try:
        if (folder / SECRET).read_text() != secret:
            return None
    except OSError:
        return None
    notebooks = set(course.notebooks(assignment))   # a page under any other name is not the grader's
    pages = {p.stem: p.read_text(errors="replace") for p in sorted(folder.glob("*.html")) if p.stem in notebooks}
    return pages or None
