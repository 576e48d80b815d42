"""`course serve` on a real nbgrader exchange in a temporary folder.

Students submit with nbgrader's own ``ExchangeSubmit`` and read their feedback
with nbgrader's own ``ExchangeFetchFeedback``; the service runs in this
process (``--once``) or as a ``course serve`` subprocess that the test stops
(SIGTERM) or kills (SIGKILL). Assignment 02 with shortened time limits.
"""

from __future__ import annotations

import copy
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import fetch_feedback as nbgrader_fetch
from nbgrader.exchange.default import submit as nbgrader_submit

from autograder.apps.serve import Service
from autograder.course import REPOSITORY
from autograder.demo import typical_mistake
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class
from autograder.service.journal import Journal
from tests.hostile.builder import HOSTILE_CELLS
from tests.exchange_users import as_student

pytestmark = [pytest.mark.sandbox]

A = "02-signals"
NOTEBOOK = "signals"
# Short enough for the hostile cells to be stopped soon, long enough for a first kernel on a busy machine.
LIMITS = {"Execute.timeout": 20, "Execute.iopub_timeout": 8, "SandboxedExecute.notebook_timeout": 60,
          "SandboxedExecute.max_output_bytes": 2_000_000, "SandboxedExecute.memory_limit_mb": 2048,
          "SandboxedExecute.max_processes": 64}
SERVE = {"InstantFeedback.assignments": [A], "InstantFeedback.poll_seconds": 0.3,
         "CourseIntake.owner_check": "off"}   # every test student is this process's user


class Exchange:
    """A course with an nbgrader exchange in *tmp*, the assignment released, and students' homes."""

    def __init__(self, tmp: Path, **settings):
        self.tmp = tmp
        self.root = tmp / "exchange"
        self.root.mkdir()
        self.settings = {"Exchange.root": str(self.root), **LIMITS, **SERVE, **settings}
        self.scratch = ScratchCourse(tmp / "course", **self.settings)
        self.course = self.scratch.course
        self.release_nb = self.scratch.release_notebook(A)
        self.source_nb = self.scratch.source_notebook(A)
        released = self.course.api.release_assignment(A)     # the instructor's `nbgrader release_assignment`
        assert released["success"], released.get("log")
        self.homes = tmp / "homes"
        self.submitted: dict[str, list[nbformat.NotebookNode]] = {}

    # -- notebooks a student might hand in --------------------------------------
    def solved(self):
        return fill_solutions(self.release_nb, self.source_nb)

    def mistaken(self):
        mistake = typical_mistake(A)
        return fill_solutions(self.release_nb, self.source_nb, replace={mistake["cell"]: mistake["source"]})

    def hostile(self, code: str):
        notebook = self.solved()
        notebook.cells.insert(2, new_code_cell(code))
        return notebook

    # -- nbgrader's own student commands ------------------------------------------
    def _config(self, student: str):
        config = copy.deepcopy(self.course.config)
        config.Exchange.root = str(self.root)
        config.Exchange.cache = str(self.homes / student / ".cache")
        config.CourseDirectory.root = str(self.homes / student)
        config.CourseDirectory.assignment_id = A
        return config

    def submit(self, student: str, notebook) -> None:
        """`nbgrader submit 02-signals` as *student*."""
        folder = self.homes / student / A
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(folder / f"{NOTEBOOK}.ipynb"))
        config = self._config(student)
        app = nbgrader_submit.ExchangeSubmit(coursedir=CourseDirectory(config=config),
                                             authenticator=Authenticator(config=config), config=config)
        app.coursedir.assignment_id = A
        app.assignment_dir = str(self.homes / student)
        with as_student(nbgrader_submit, student):   # the OS user nbgrader would read
            app.start()
        self.submitted.setdefault(student, []).append(notebook)

    def fetch(self, student: str) -> dict[str, str]:
        """`nbgrader fetch_feedback 02-signals` as *student*: submission timestamp → feedback HTML."""
        config = self._config(student)
        app = nbgrader_fetch.ExchangeFetchFeedback(coursedir=CourseDirectory(config=config),
                                                   authenticator=Authenticator(config=config), config=config)
        app.coursedir.assignment_id = A
        app.assignment_dir = str(self.homes / student)
        with as_student(nbgrader_fetch, student):   # the OS user nbgrader would read
            app.start()
        folder = self.homes / student / A / "feedback"
        return {p.parent.name: p.read_text() for p in sorted(folder.glob(f"*/{NOTEBOOK}.html"))} if folder.exists() else {}

    def latest_feedback(self, student: str) -> str:
        pages = self.fetch(student)
        return pages[max(pages)] if pages else ""

    # -- the service --------------------------------------------------------------
    def serve_once(self, workers: int = 2) -> str:
        out = io.StringIO()
        Service(self.course, workers=workers, out=out).run(once=True)
        return out.getvalue()

    def command(self, workers: int = 2) -> list[str]:
        settings = [f"{key}={value!r}" for key, value in self.settings.items() if key != "Exchange.root"]
        return [sys.executable, "-m", "autograder", "serve", "--root", str(self.course.root), "--exchange",
                str(self.root), "--workers", str(workers), *[arg for s in settings for arg in ("--set", s)]]

    def start(self, log: Path, workers: int = 2) -> subprocess.Popen:
        return subprocess.Popen(self.command(workers), stdout=open(log, "a"), stderr=subprocess.STDOUT,
                                cwd=REPOSITORY)

    def journal(self) -> Journal:
        return Journal(self.course.root / ".serve" / "journal.db")

    def score(self, student: str) -> float | None:
        score = self.course.score(A, student)
        return score.score if score else None


def page_score(page: str) -> tuple[float, float]:
    """The score nbgrader's feedback page shows: 'Score: 12.0 / 12.0'."""
    match = re.search(r"Score:\s*([\d.]+)\s*/\s*([\d.]+)", re.sub(r"<[^>]+>", " ", page))
    assert match, "no score on the feedback page"
    return float(match.group(1)), float(match.group(2))


@pytest.fixture(scope="module")
def course_grade(tmp_path_factory) -> dict[str, float]:
    """What `course grade 02-signals FOLDER` gives for the notebooks the tests' students hand in:
    solved, with the typical mistake, the untouched release (graded once for the module)."""
    tmp = tmp_path_factory.mktemp("course-grade")
    other = ScratchCourse(tmp / "course", **LIMITS)
    release, source = other.release_notebook(A), other.source_notebook(A)
    mistake = typical_mistake(A)
    notebooks = {"solved": fill_solutions(release, source), "release": release,
                 "mistaken": fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]})}
    folder = tmp / "lms-folder"
    for student, notebook in notebooks.items():
        (folder / student / A).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / A / f"{NOTEBOOK}.ipynb"))
    report = grade_class(other.course, A, folder, workers=2)
    scores = {r.student: r.score for r in report.results}
    assert scores["release"] == 0.0 and 0 < scores["mistaken"] < scores["solved"]
    return scores


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def count(ex: Exchange, *states: str) -> int:
    journal = ex.journal()
    try:
        return len(journal.in_state(*states))
    finally:
        journal.close()


# -- the tests -------------------------------------------------------------------

def test_once_grades_each_submission_and_students_fetch_their_feedback(tmp_path, course_grade):
    ex = Exchange(tmp_path)
    class_ = {"amy": ex.solved(), "bo": ex.release_nb, "cleo": ex.mistaken()}
    for student, notebook in class_.items():
        ex.submit(student, notebook)

    log = ex.serve_once()

    expected = {"amy": course_grade["solved"], "bo": course_grade["release"], "cleo": course_grade["mistaken"]}
    for student in class_:
        assert ex.score(student) == expected[student], student
        pages = ex.fetch(student)
        assert len(pages) == 1, pages.keys()
        page = next(iter(pages.values()))
        assert page_score(page)[0] == expected[student]
        assert "Your grade is your last submission before the deadline" in page
        assert "BEGIN HIDDEN TESTS" not in page and "record(" not in page
        line = next(entry for entry in log.splitlines() if f" {student} {A}:" in entry)
        assert re.search(rf" {expected[student]:g}/12, feedback [\d.]+ s after submitting \(queue \d+\)", line), line
    assert "not graded" not in log

    # The same exchange again: nothing new, nothing graded or released twice.
    assert "after submitting" not in ex.serve_once()
    journal = ex.journal()
    events = [event for _, event, _, _ in journal.events()]
    assert events.count("graded") == 3 and events.count("released") == 3
    # A worker handed a submission that is already graded to the end (the service was killed after
    # the grading, before its journal said so) grades nothing and reports the gradebook's score.
    from autograder.pipeline import _prepare_gradebook
    from autograder.service.worker import grade_one

    amy = journal.of_student("amy", A)[-1]
    again = grade_one(str(ex.course.root), _prepare_gradebook(ex.course, A), amy.name, amy.secret)
    assert again["skipped"] and again["score"] == expected["amy"]
    journal.close()
    # `course grade` on the same course afterwards finds them graded and leaves them alone.
    report = grade_class(ex.course, A, workers=1)
    assert {r.student: r.status for r in report.results} == {s: "unchanged" for s in class_}


def test_a_burst_is_drained_and_each_student_gets_the_feedback_of_the_latest(tmp_path, course_grade):
    ex = Exchange(tmp_path)
    students = [f"s{i:02d}" for i in range(12)]
    for round_ in range(3):   # 36 submissions from 12 students, all waiting before the service looks
        for i, student in enumerate(students):
            last = round_ == 2
            notebook = (ex.solved() if i % 2 else ex.mistaken()) if last else ex.release_nb
            ex.submit(student, notebook)

    log = ex.serve_once()

    full, mistaken = course_grade["solved"], course_grade["mistaken"]

    journal = ex.journal()
    entries = journal.in_state("queued", "deferred", "grading", "graded", "released", "superseded", "closed")
    assert len(entries) == 36 and journal.queue_length() == 0
    for student in students:
        mine = journal.of_student(student, A)
        assert [e.state for e in mine] == ["superseded", "superseded", "released"]
        i = students.index(student)
        want = full if i % 2 else mistaken
        assert ex.score(student) == want
        pages = ex.fetch(student)
        assert len(pages) == 3
        stamps = sorted(pages)
        assert page_score(pages[stamps[-1]])[0] == want
        for older in stamps[:-1]:
            assert "replaced by a later submission" in pages[older] and "Score:" not in pages[older]
    assert "queue" in log
    journal.close()


def test_sigkill_in_a_burst_then_restart_loses_nothing_and_grades_nothing_twice(tmp_path, course_grade):
    ex = Exchange(tmp_path)
    log = tmp_path / "serve.log"
    service = ex.start(log)
    students = [f"k{i:02d}" for i in range(10)]
    try:
        for round_ in range(3):   # 30 submissions arriving while the service runs
            for i, student in enumerate(students):
                ex.submit(student, ex.solved() if (i + round_) % 2 else ex.release_nb)
        # Killed while gradings are in flight, after some feedback is out.
        wait_for(lambda: count(ex, "released") >= 1 and count(ex, "grading") >= 1, 300, "feedback and gradings")
        service.send_signal(signal.SIGKILL)
        service.wait(30)
        in_flight = {e.name for e in ex.journal().in_state("grading")}
        done_at_kill = count(ex, "released", "superseded")
        service = ex.start(log)
        # A TA's `course grade` on the same course meanwhile: neither blocks nor breaks the other.
        report = grade_class(ex.course, A, workers=1)
        assert not [r for r in report.results if r.problem], report.table()
        wait_for(lambda: count(ex, "released", "superseded") == 30 or service.poll() is not None, 400,
                 "the whole burst")
        service.send_signal(signal.SIGTERM)   # the long-running mode stops cleanly
        assert service.wait(120) == 0
    finally:
        if service.poll() is None:
            service.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    expected = course_grade
    journal = ex.journal()
    assert journal.queue_length() == 0
    assert in_flight and done_at_kill < 30
    for name in in_flight:   # graded after the restart, once
        assert [event for _, event, _, _ in journal.events(name)].count("requeued") == 1
    for student in students:
        mine = journal.of_student(student, A)
        assert len(mine) == 3 and mine[-1].state == "released"
        for entry in mine:
            events = [event for _, event, _, _ in journal.events(entry.name)]
            assert events.count("graded") <= 1, (entry.name, events)
            assert events.count("released") + events.count("notice:superseded") == 1, (entry.name, events)
        i = students.index(student)
        want = expected["solved"] if (i + 2) % 2 else expected["release"]
        assert ex.score(student) == want
        pages = ex.fetch(student)
        assert page_score(pages[max(pages)])[0] == want
    journal.close()
    assert "stopped" in text


def test_over_the_rate_limit_is_kept_told_when_and_graded_when_the_window_allows(tmp_path, course_grade):
    ex = Exchange(tmp_path, **{"InstantFeedback.max_gradings_per_hour": 1, "InstantFeedback.window_seconds": 20})
    ex.submit("amy", ex.release_nb)
    ex.serve_once()
    assert ex.score("amy") == 0.0
    ex.submit("amy", ex.solved())
    log = ex.serve_once()
    assert "held back by the rate limit" in log
    page = ex.latest_feedback("amy")
    assert "will be graded at about" in page and "Score:" not in page
    assert ex.score("amy") == 0.0   # kept, not graded yet
    journal = ex.journal()
    waiting = journal.of_student("amy", A)[-1]
    assert waiting.state == "deferred"
    journal.close()
    time.sleep(max(0.0, waiting.not_before - time.time()) + 0.5)
    ex.serve_once()
    solved = course_grade["solved"]
    assert ex.score("amy") == solved
    assert page_score(ex.latest_feedback("amy"))[0] == solved


def test_after_the_total_of_instant_gradings_a_submission_is_kept_for_the_staff(tmp_path, course_grade):
    ex = Exchange(tmp_path, **{"InstantFeedback.max_gradings_per_assignment": 1})
    ex.submit("amy", ex.release_nb)
    ex.serve_once()
    assert ex.score("amy") == 0.0
    ex.submit("amy", ex.solved())
    log = ex.serve_once()
    assert "amy 02-signals: closed" in log
    assert ex.score("amy") == 0.0          # kept, not graded instantly
    assert "no instant gradings left" in ex.latest_feedback("amy")
    journal = ex.journal()
    assert journal.of_student("amy", A)[-1].state == "closed"
    journal.close()


def test_hostile_submissions_cost_only_their_own_time_and_points(tmp_path, course_grade):
    ex = Exchange(tmp_path)
    attacks = {name: HOSTILE_CELLS[name] for name in ("h-infinite-loop", "h-fork-bomb", "h-output-flood")}
    for student, code in attacks.items():
        ex.submit(student, ex.hostile(code))
    ex.submit("amy", ex.solved())
    ex.submit("bo", ex.mistaken())
    start = time.monotonic()
    log = ex.serve_once()
    took = time.monotonic() - start
    expected = {"amy": course_grade["solved"], "bo": course_grade["mistaken"]}
    for student in ("amy", "bo"):
        assert ex.score(student) == expected[student]
        assert page_score(ex.latest_feedback(student))[0] == expected[student]
    # The reasons the sandbox gives (a flood may meet the memory limit before the output limit).
    reasons = {"h-infinite-loop": ("timed out",), "h-fork-bomb": ("process limit",),
               "h-output-flood": ("output flood", "kernel died")}
    for student, words in reasons.items():
        page = ex.latest_feedback(student)
        assert any(word in page for word in words), f"{student}: no reason in the feedback"
        assert (ex.score(student) or 0) <= expected["amy"]
        assert "BEGIN HIDDEN TESTS" not in page
    # Each attack is bounded by its own limits (per cell and per notebook), not the queue's: the
    # honest students, who submitted after all three, wait at most about one attack's limit.
    assert took < 3 * LIMITS["SandboxedExecute.notebook_timeout"] + 60, log
    journal = ex.journal()
    for student in ("amy", "bo"):
        entry = journal.of_student(student, A)[-1]
        assert entry.released - entry.submitted < LIMITS["SandboxedExecute.notebook_timeout"] + 90, log
    journal.close()


def test_at_the_deadline_the_last_on_time_submission_counts_and_late_work_gets_the_late_policy(tmp_path, course_grade):
    from datetime import datetime, timedelta, timezone

    ex = Exchange(tmp_path, **{"PerDayPenalty.grace_minutes": 0.0})
    ex.submit("amy", ex.solved())            # on time
    ex.serve_once()
    due = datetime.now(timezone.utc).replace(tzinfo=None)
    with ex.course.gradebook() as gradebook:   # the deadline passes (`course grade --due`, or formgrader)
        gradebook.update_or_create_assignment(A, duedate=due)
    time.sleep(1)
    ex.submit("amy", ex.release_nb)          # late, with an on-time submission: the grade stays
    ex.submit("bo", ex.solved())             # late, nothing on time: graded with the late penalty
    log = ex.serve_once()

    solved = course_grade["solved"]
    assert ex.score("amy") == solved
    late_page = ex.latest_feedback("amy")
    assert page_score(late_page)[0] == 0.0
    assert f"Your grade stays the one of your last submission before it ({solved:g} of 12 points)" in late_page
    assert "grade kept" in log
    bo = ex.latest_feedback("bo")
    assert "it is your grade, with the late penalty" in bo and "10% of its points were taken off" in bo
    with ex.course.gradebook() as gradebook:   # nbgrader keeps the penalty beside the score
        late = gradebook.find_submission(A, "bo")
        assert late.score == solved and late.late_submission_penalty == pytest.approx(solved * 0.1)

    # After instant feedback closes, a submission is kept for the TA, and the student is told.
    ex.course.config.InstantFeedback.open_until = {A: (due + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")}
    time.sleep(2)
    ex.submit("cleo", ex.solved())
    log = ex.serve_once()
    assert "closed" in log and ex.score("cleo") is None
    assert "Instant feedback for 02-signals ended" in ex.latest_feedback("cleo")
