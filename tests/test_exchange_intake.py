"""Intake from an nbgrader exchange: students submit with nbgrader's own
``ExchangeSubmit``, the TA grades the exchange folder with ``grade_class``."""

from __future__ import annotations

import copy

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import submit as nbgrader_submit

from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class

A = "02-signals"


def student_submits(course: ScratchCourse, exchange, home, student: str, notebook) -> None:
    """What `nbgrader submit 02-signals` does for *student*, with nbgrader's own app."""
    folder = home / student / A
    folder.mkdir(parents=True)
    nbformat.write(notebook, str(folder / "signals.ipynb"))
    config = copy.deepcopy(course.course.config)
    config.Exchange.root = str(exchange)
    config.Exchange.cache = str(home / student / ".cache")
    config.CourseDirectory.root = str(home / student)
    config.CourseDirectory.assignment_id = A
    app = nbgrader_submit.ExchangeSubmit(coursedir=CourseDirectory(config=config),
                                         authenticator=Authenticator(config=config), config=config)
    app.coursedir.assignment_id = A
    app.assignment_dir = str(home / student)
    original = nbgrader_submit.get_username
    nbgrader_submit.get_username = lambda: student   # the OS user nbgrader would read
    try:
        app.start()
    finally:
        nbgrader_submit.get_username = original


def test_an_exchange_is_collected_and_graded(tmp_path):
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    course = ScratchCourse(tmp_path / "course", **{"Exchange.root": str(exchange)})
    release, source = course.release_notebook(A), course.source_notebook(A)
    released = course.course.api.release_assignment(A)          # the instructor's `nbgrader release_assignment`
    assert released["success"], released.get("log")
    student_submits(course, exchange, tmp_path / "homes", "amy", fill_solutions(release, source))
    student_submits(course, exchange, tmp_path / "homes", "bo", release)

    report = grade_class(course.course, A, exchange, workers=1)
    scores = {r.student: r.score for r in report.results}
    assert scores == {"amy": 12.0, "bo": 0.0}
    assert "extra files" not in report.table()   # nbgrader's own timestamp and secret are not extras
    assert (course.course.path("feedback", "amy", A) / "signals.html").exists()
