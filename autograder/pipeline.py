"""Grade a class: every submission of one assignment, then feedback and grades.

``grade_class`` takes a folder, nbgrader exchange or LMS zip of submissions
(:mod:`autograder.intake`), autogrades every new or changed submission with
nbgrader in parallel workers — the student's code runs in the sandbox
(:mod:`autograder.preprocessors.sandbox`) — writes feedback HTML, exports nbgrader's grades
CSV and a per-cell CSV (:mod:`autograder.reports`), and reports who was
graded, who failed and why. One broken or hostile submission costs only its
own points.

Parallelism and the gradebook
-----------------------------
Each submission is graded by nbgrader's own ``autograde`` and
``generate_feedback`` in a worker *process* (a ``ProcessPoolExecutor`` sized
to the machine, or any ``concurrent.futures`` executor passed in — a Dask
cluster past one machine, see :mod:`autograder.cluster.executors`, with the
course folder on a shared file system). All workers write to the course's
one gradebook through nbgrader's ``Gradebook``. That is safe because
nbgrader's transactions are short and separate (find or create the
submission; later, save the scores), and nothing is held open while the
notebook runs; SQLite serialises writers, the busy ``timeout`` added to the
default ``sqlite:///`` URL makes a writer wait for another instead of failing,
and WAL journaling lets readers go on during a write. A submission that still
meets a locked database is graded again. A PostgreSQL ``db_url`` needs none of
this: the SQLite settings are applied to SQLite URLs only.

A worker that dies (a Dask worker lost, a pool process killed) costs no
submission: its work is graded again elsewhere. Every attempt leaves a marker
in ``.grading/attempts/<run>/``, so the summary names the submissions that
were retried; nbgrader's ``autograde`` with ``force`` recreates the
submission's rows and files, so a retry replaces a half-finished attempt and
the gradebook holds each submission once. Keeping nbgrader's own writes (rather than copying results from private
gradebooks into the real one) means the gradebook is exactly what grading the
students one by one with ``nbgrader autograde`` would give.

Resuming
--------
After each submission finishes, the main process records its fingerprint —
a SHA-256 of the submission's files, the assignment's source notebooks and
its answer key — in ``.grading/<assignment>.json`` in the course root
(written atomically). The next run grades only submissions whose fingerprint
changed, unless ``force``. A run killed half way keeps every submission it
finished: nbgrader committed it, and its fingerprint was recorded.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import fcntl
import hashlib
import json
import multiprocessing
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.preflight import Preflight, inspect_submission
from autograder.safefiles import UnsafeSubmission, open_student_file
from autograder.keyrunner import key_file

#: Seconds a worker waits for another one's gradebook write.
SQLITE_BUSY_TIMEOUT = 120


@dataclass
class StudentResult:
    student: str
    score: float | None
    max_score: float | None
    seconds: float
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    status: str = "graded"  # graded | unchanged | failed
    attempts: int = 1  # > 1: its first worker was lost and another graded it


@dataclass
class ClassReport:
    assignment: str
    results: list[StudentResult] = field(default_factory=list)
    grades_csv: Path | None = None
    cells_csv: Path | None = None
    feedback_dir: Path | None = None
    seconds: float = 0.0
    workers: int = 1
    sandbox: str = ""
    warnings: list[str] = field(default_factory=list)
    #: Where grading ran, submissions retried after a lost worker: printed under the counts.
    remarks: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[StudentResult]:
        return [r for r in self.results if r.problem]

    def table(self) -> str:
        from autograder.reports import summary

        return summary(self)


# -- one submission (runs in a worker process) --------------------------------

_COURSES: dict[tuple, Course] = {}


#: A worker's own settings: once the last cell's output is in, the sandboxed kernel has
#: nothing left to do, so it is stopped at once instead of being asked to shut down and
#: waited for (the sandbox's clean-up runs either way).
WORKER_SETTINGS = {"Execute.shutdown_kernel": "immediate"}


def _worker_course(root: str, overrides: dict) -> Course:
    """The worker's Course for *root*: built (config loaded) once per process, not per submission.

    Its feedback exporter (the configured one) reuses one compiled set of
    templates for every page (:mod:`autograder.warm`).
    """
    from autograder.warm import warm_exporter

    key = (root, json.dumps(overrides, sort_keys=True, default=str))
    if key not in _COURSES:
        configured = Course(root, **overrides).config.GenerateFeedback.get("exporter_class")
        _COURSES[key] = Course(root, **{**WORKER_SETTINGS, **overrides,
                                        "GenerateFeedback.exporter_class": warm_exporter(configured)})
    return _COURSES[key]


_SOURCES: dict[Path, tuple[int, nbformat.NotebookNode]] = {}


def _source_notebooks(course: Course, assignment: str) -> dict[str, nbformat.NotebookNode]:
    """The assignment's source notebooks, read once per worker (again when a file changes)."""
    notebooks = {}
    for name in course.notebooks(assignment):
        path = course.path("source", assignment, f"{name}.ipynb")
        stamp = path.stat().st_mtime_ns
        if path not in _SOURCES or _SOURCES[path][0] != stamp:
            _SOURCES[path] = (stamp, nbformat.read(str(path), as_version=4))
        notebooks[name] = _SOURCES[path][1]
    return notebooks


_GENERIC = ("Please see", "There was an error processing", "Traceback (most recent call last)")


def _first_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines()]
    # nbgrader's own [ERROR] line says what went wrong; a traceback's source lines ("raise …(msg)") do not
    for line in lines:
        if line.startswith("[ERROR] ") and not any(generic in line for generic in _GENERIC):
            return line.removeprefix("[ERROR] ")[:240]
    for marker in ("NbGraderException", "Error:", "error"):
        for line in reversed(lines):
            if marker in line and "Please see" not in line and "There was an error processing" not in line:
                return line.removeprefix("[ERROR] ")[:240]
    return "autograding failed (see the log)"


#: One submission at a time per process: the sandbox's events and user id are per process
#: (a Dask worker started with more than one thread still grades one after another).
_GRADING = threading.Lock()


def _count_attempt(root: str, run: str | None, student: str) -> int:
    """Leave this attempt's marker in ``.grading/attempts/<run>/``; return its number (1, 2, …)."""
    if not run:
        return 1
    folder = Path(root) / ".grading" / "attempts" / run
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, 100):
        try:
            os.close(os.open(folder / f"{student}.{number}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return number
        except FileExistsError:
            continue
    return 100


_HELD_LOCKS: set[tuple[str, str, str]] = set()


@contextlib.contextmanager
def student_lock(root: str | Path, assignment: str, student: str, blocking: bool = True):
    """One grader at a time per submission: ``course grade`` and ``course serve`` share
    ``.grading/locks/<assignment>+<student>.lock`` (an flock: it goes with its process).
    Re-entrant within a process; with ``blocking=False`` it yields False while another holds it."""
    key = (str(root), assignment, student)
    if key in _HELD_LOCKS:
        yield True
        return
    path = Path(root) / ".grading" / "locks" / f"{assignment}+{student}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        _HELD_LOCKS.add(key)
        try:
            yield True
        finally:
            _HELD_LOCKS.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)


def grade_submission(root: str, assignment: str, student: str, overrides: dict, run: str | None = None) -> dict:
    """Autograde one student's submission and write its feedback (in a worker)."""
    with _GRADING, student_lock(root, assignment, student):
        attempt = _count_attempt(root, run, student)
        return {**_grade_submission(root, assignment, student, overrides), "attempts": attempt}


def _grade_submission(root: str, assignment: str, student: str, overrides: dict) -> dict:
    from autograder.preprocessors.sandbox import take_events

    import warnings

    warnings.filterwarnings("ignore", module="nbgrader")  # nbgrader's own SQLAlchemy chatter
    start = time.perf_counter()
    course = _worker_course(root, overrides)
    folder = course.path("submitted", student, assignment)
    sources = _source_notebooks(course, assignment)
    findings = inspect_submission(folder, sources, Preflight(config=course.config))
    if findings.fatal:  # nothing nbgrader could grade: say what the student should do
        course.enrol(student)
        return {"student": student, "score": None, "max_score": course.max_score(assignment),
                "problem": findings.summary(), "notes": [], "seconds": time.perf_counter() - start}
    for attempt in range(3):
        take_events()
        result = course.autograde(assignment, student)
        events = take_events()
        log = result.get("log", "") + str(result.get("error", "") or "")
        if result.get("success") or "database is locked" not in log:
            break
        time.sleep(1 + attempt)
    problem = None
    if not result.get("success"):
        problem = _first_error(log)
    else:
        feedback = course.generate_feedback(assignment, student)
        if not feedback.get("success"):
            problem = "feedback failed: " + _first_error(feedback.get("log", ""))
    score = course.score(assignment, student)
    return {"student": student, "score": score.score if score else None,
            "max_score": score.max_score if score else None, "problem": problem,
            "notes": findings.notes + events, "seconds": time.perf_counter() - start}


# -- the class ---------------------------------------------------------------

def submitted_students(course: Course, assignment: str) -> list[str]:
    submitted = course.path("submitted")
    if not submitted.exists():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


def fingerprint(course: Course, assignment: str, student: str) -> str:
    """SHA-256 of the submission's files, the source notebooks and the answer key."""
    digest = hashlib.sha256()
    folder = course.path("submitted", student, assignment)
    # timestamp.txt is left out: a new time (or due date) re-applies the penalty without regrading
    inputs = [(f"submitted/{p.relative_to(folder).as_posix()}", p) for p in sorted(folder.rglob("*"))
              if p.is_file() and not p.is_symlink() and p.relative_to(folder).as_posix() != "timestamp.txt"]
    inputs += [(f"source/{p.name}", p) for p in sorted(course.path("source", assignment).glob("*.ipynb"))]
    key = key_file(assignment)
    if key.exists():
        inputs.append(("key", key))
    for name, path in inputs:
        # a submitted file through safefiles (no link, no FIFO); in blocks: a huge file is never held in memory
        fd = (open_student_file(folder, *path.relative_to(folder).parts, max_bytes=2**62)
              if name.startswith("submitted/") else os.open(path, os.O_RDONLY))
        with open(fd, "rb") as handle:
            digest.update(name.encode() + b"\0" + hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


class GradingState:
    """What was graded, by fingerprint: ``.grading/<assignment>.json`` in the course root."""

    def __init__(self, course: Course, assignment: str):
        self.path = course.root / ".grading" / f"{assignment}.json"
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def unchanged(self, student: str, print_: str) -> bool:
        return self.entries.get(student, {}).get("fingerprint") == print_

    def record(self, student: str, print_: str, result: StudentResult) -> None:
        self.entries[student] = {"fingerprint": print_, "problem": result.problem, "notes": result.notes}
        self.path.parent.mkdir(exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(partial, self.path)


def _prepare_gradebook(course: Course, assignment: str) -> dict:
    """Config overrides for workers; WAL and the assignment in the gradebook."""
    with course.gradebook() as gradebook:
        known = [a.name for a in gradebook.assignments if a.notebooks]
    if assignment not in known or not course.path("release", assignment).exists():
        course.generate_release(assignment)
    # The workers load the course config with every setting of this Course (tests shorten limits).
    overrides: dict = {f"{section}.{name}": value for section, values in course.config.items()
                       if isinstance(values, dict) for name, value in values.items()}
    url = course.db_url
    if url.startswith("sqlite:///") and "?" not in url:
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=SQLITE_BUSY_TIMEOUT) as db:
            db.execute("PRAGMA journal_mode=WAL")
        overrides["CourseDirectory.db_url"] = f"{url}?timeout={SQLITE_BUSY_TIMEOUT}"
    from autograder.verdicts import ensure_table

    ensure_table(course.db_url)  # the keys' verdicts (for `course report`), before any worker writes one
    return overrides


def _default_executor(workers: int) -> futures.Executor:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _run_all(course: Course, assignment: str, students: list[str], overrides: dict, workers: int,
             executor: futures.Executor | None, on_result, run: str | None = None) -> None:
    """Grade *students* in parallel; a crashed worker is replaced and its work retried once.

    On Dask the scheduler itself moves a lost worker's submissions to another
    worker; past its ``allowed-failures`` it gives up with ``KilledWorker``.
    """
    attempts = {student: 0 for student in students}
    pending = list(students)
    while pending:
        own = executor is None
        pool = executor or _default_executor(workers)
        jobs = {pool.submit(grade_submission, str(course.root), assignment, s, overrides, run): s for s in pending}
        pending = []
        try:
            for job in futures.as_completed(jobs):
                student = jobs[job]
                try:
                    on_result(StudentResult(**{**job.result(), "status": "graded"}))
                except futures.process.BrokenProcessPool:
                    attempts[student] += 1
                    if attempts[student] < 2:
                        pending.append(student)
                    else:
                        on_result(StudentResult(student, None, None, 0.0, "the grading worker died twice"))
                except Exception as error:  # a bug or an environment problem: report, go on
                    if type(error).__name__ == "KilledWorker":  # Dask: every worker given it died
                        on_result(StudentResult(student, None, None, 0.0,
                                                "every grading worker given this submission died; "
                                                "see the Dask workers' logs"))
                        continue
                    on_result(StudentResult(student, None, None, 0.0, f"grading crashed: {type(error).__name__}: {error}"))
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)


def grade_class(course: Course, assignment: str, source: Path | None = None,
                workers: int | None = None, force: bool = False,
                executor: futures.Executor | None = None, where: str = "",
                update_assignment: bool = False, progress=None) -> ClassReport:
    """Autograde every new or changed submission of *assignment*, then export.

    *source*: a folder (nbgrader layout), an nbgrader exchange or an LMS zip,
    brought into ``submitted/`` first. *workers*: parallel workers (default
    one per core). *force*: grade everything again. *executor*: any
    ``concurrent.futures`` executor to use instead of a local process pool
    (:func:`autograder.cluster.executors.open_backend`), *where* what to call it.
    *update_assignment*: grade with a source whose cells changed since the
    class was graded (:mod:`autograder.release_changes`). *progress*: called
    as ``progress(result, done, total)`` after each submission.
    """
    from autograder.release_changes import explain_notes, refresh_release
    from autograder.intake import REFUSED, intake, refusal
    from autograder.plugins.late import late_summary, reapply_late_penalties
    from autograder.reports import write_cell_csv
    from autograder.roster import unrostered_warning
    from autograder.preprocessors.sandbox import isolation_mode, protection_warnings

    start = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    isolation = course.config.SandboxedExecute.get("isolation", "auto")
    report = ClassReport(assignment, workers=workers, sandbox=isolation_mode(isolation))
    report.warnings += protection_warnings(isolation)  # what this machine's sandbox cannot bound
    notes = intake(course, assignment, source)
    report.warnings += notes.pop("(intake)", [])
    report.warnings += [w for w in [unrostered_warning(course.root, submitted_students(course, assignment))] if w]
    for student, lines in sorted(notes.items()):  # refused at intake, with nothing earlier to grade
        if refusal(lines) and not course.path("submitted", student, assignment).is_dir():
            course.enrol(student)
            report.results.append(StudentResult(student, None, None, 0.0, refusal(lines),
                                                [n for n in lines if n != REFUSED + refusal(lines)], "failed"))
    changed, regrade = refresh_release(course, assignment, update_assignment)
    report.warnings += changed
    force = force or regrade
    overrides = _prepare_gradebook(course, assignment)
    state = GradingState(course, assignment)

    todo: list[str] = []
    prints: dict[str, str] = {}
    for student in submitted_students(course, assignment):
        folder = course.path("submitted", student, assignment)
        try:   # one student's folder fails only that student
            prints[student] = fingerprint(course, assignment, student)
        except (OSError, ValueError, UnsafeSubmission) as error:
            report.results.append(StudentResult(student, None, None, 0.0, "the submission could not be read "
                                                f"({type(error).__name__}); submit the notebook again",
                                                notes.get(student, []), "failed"))
            continue
        if not any(folder.glob("*.ipynb")):
            with course.gradebook() as gradebook:  # listed in the grades CSV with nothing earned
                gradebook.update_or_create_student(student)
            result = StudentResult(student, None, None, 0.0, "empty submission: no notebook found",
                                   notes.get(student, []), "failed")
            report.results.append(result)
            state.record(student, prints[student], result)
        elif not force and state.unchanged(student, prints[student]):
            entry = state.entries[student]
            score = course.score(assignment, student)
            report.results.append(StudentResult(
                student, score.score if score else None, score.max_score if score else None, 0.0,
                entry.get("problem"), list(dict.fromkeys(notes.get(student, []) + list(entry.get("notes", [])))),
                "unchanged"))
        else:
            todo.append(student)

    def on_result(result: StudentResult) -> None:
        result.notes = explain_notes(course, assignment, list(dict.fromkeys(notes.get(result.student, []) + result.notes)))
        if result.problem:
            result.status = "failed"
        report.results.append(result)
        state.record(result.student, prints[result.student], result)
        if progress:
            progress(result, len(report.results) - already, len(todo))

    already = len(report.results)
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    if where:
        report.remarks.append(f"grading on {where}")
    try:
        _run_all(course, assignment, todo, overrides, workers, executor, on_result, run)
    finally:
        import shutil

        shutil.rmtree(course.root / ".grading" / "attempts" / run, ignore_errors=True)
    retried = sorted(r.student for r in report.results if r.attempts > 1)
    if retried:
        report.remarks.append(f"{len(retried)} submission{' was' if len(retried) == 1 else 's were'} retried "
                              f"after a worker was lost: {', '.join(retried)}")
    # a new due date or time: penalties of unchanged submissions again, nothing executed
    reapply_late_penalties(course, assignment, [r.student for r in report.results if r.status == "unchanged"])
    for r in report.results:  # the score after any late penalty, as the grades CSV has it
        late = late_summary(course, assignment, r.student) if r.score is not None else None
        if late:
            r.score, r.max_score = late[0], late[1]
            r.notes = ([late[2]] if late[2] else []) + [n for n in r.notes if not n.startswith(("late by ", "marked late"))]
    report.results.sort(key=lambda r: r.student)
    from autograder.feedback_page import mark_problems, recorded_problems, write_failure_page

    for r in report.results:  # a submission that could not be graded gets a feedback page saying why
        if r.problem:
            write_failure_page(course, assignment, r.student, r.problem, r.max_score)
    report.grades_csv = mark_problems(course.export_grades(course.root / "grades.csv"), {
        **recorded_problems(course), **{(assignment, r.student): r.problem for r in report.results if r.problem}})
    report.cells_csv = write_cell_csv(course, assignment, course.root / f"grades-{assignment}-cells.csv")
    report.feedback_dir = course.path("feedback")
    report.seconds = time.perf_counter() - start
    return report
