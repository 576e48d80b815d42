"""``course serve``: grade each submission on the nbgrader exchange as it arrives.

The service looks at ``<exchange>/<course id>/inbound`` every
``InstantFeedback.poll_seconds``. Each complete submission of an open
assignment is written to the journal (:mod:`autograder.service.journal`),
then, oldest first:

1. a later submission of the same student and assignment *supersedes* a
   waiting one (only the latest is graded; the earlier gets a short notice);
2. a student over ``max_gradings_per_hour`` (or ``max_gradings_per_student``,
   all assignments together) waits (*deferred*) and at once gets a notice
   saying when it will be graded; workers go round the students (fair share,
   :meth:`autograder.service.policy.InstantFeedback.fair_order`);
3. otherwise a worker collects it with nbgrader's ``ExchangeCollect`` and
   grades it with :func:`autograder.pipeline.grade_submission` — the
   sandboxed autograde and feedback of ``course grade``, with the course's keys;
4. its feedback (with a short box on top: when it was graded, whether this
   grade counts) is released with nbgrader's ``ExchangeReleaseFeedback``,
   so ``nbgrader fetch_feedback`` (or the assignment list in JupyterLab) finds it.

The grade that counts is nbgrader's: the last submission before the
deadline (the assignment's due date in the gradebook), as
``nbgrader collect --before-duedate`` takes it. A late submission from a
student with none before the deadline is graded into the gradebook with the
late penalty; a late one from a student who has an on-time submission is
graded in a separate course folder (``.serve/after-deadline``, its own
gradebook) so the student sees what it earns and the grade stays.

One line per submission is printed. ``--once`` handles what is waiting and exits.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as futures
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import MissingEntry
from traitlets.config.loader import PyFileConfigLoader

from autograder import deadlines
from autograder.apps.arguments import UsageError
from autograder.course import CONFIG_FILE, Course, grading_root, prepare_grading_root
from autograder.intake import CourseIntake
from autograder.pipeline import GradingState, StudentResult, _prepare_gradebook, fingerprint, student_lock
from autograder.safefiles import printable
from autograder.service import exchange, notices
from autograder.service.journal import Entry, Journal
from autograder.service.policy import InstantFeedback
from autograder.service.worker import feedback_pages, grade_one, pool, warm
from autograder.roster import unrostered

AFTER_DEADLINE = "after-deadline"
#: Attempts at grading one submission before it is reported as not gradable.
MAX_ATTEMPTS = 3


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class Service:
    """The grading service for one course root (see the module's docstring)."""

    def __init__(self, course: Course, workers: int | None = None, out=None):
        self.course = course
        self.config = course.config
        self.policy = InstantFeedback(config=course.config)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.out = out or sys.stdout
        self.state_dir = course.root / ".serve"
        self.journal = Journal(self.state_dir / "journal.db")
        self.stage_root = self.state_dir / "stage"
        self._overrides: dict[tuple[str, str], dict] = {}
        self._courses: dict[str, Course] = {"course": course}
        self._pool: futures.ProcessPoolExecutor | None = None
        self._jobs: dict[futures.Future, str] = {}
        self._due: dict[str, datetime | None] = {}
        self._intake = CourseIntake(config=course.config)
        self._bad: set[str] = self.journal.refused()   # inbound folders refused: never looked at again
        self.stopping = False

    # -- the loop ----------------------------------------------------------------
    def run(self, once: bool = False) -> int:
        self._say(f"course serve: {self.course.root} on exchange {exchange.inbound_folder(self.config)}; "
                  f"instant feedback for {', '.join(self.policy.assignments) or 'no assignment (see InstantFeedback)'}; "
                  f"at most {self.policy.max_gradings_per_hour} gradings per student and assignment per "
                  f"{self.policy.window_seconds:g} s, {self.policy.max_gradings_per_student} per student in all, "
                  f"{self.policy.max_concurrent_per_student} at a time; {self.workers} worker(s)")
        self.recover()
        self.warm_up()
        try:
            errors = 0
            while True:
                try:
                    busy, errors = self.tick(), 0
                except Exception as error:   # a bug or the file system: say so in one line, keep serving
                    errors += 1
                    if once and errors >= 3:
                        raise
                    self._say(f"course serve: {type(error).__name__}: {error} (trying again in 5 s)")
                    busy = True
                    time.sleep(5)
                if self.stopping and not self._jobs:
                    break
                if once and not busy and not self._jobs:
                    break
                self._wait(self.policy.poll_seconds)
        finally:
            if self._pool:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self.journal.close()
        waiting = self.journal_queue()
        self._say(f"course serve: stopped; {waiting} submission(s) waiting" if waiting else "course serve: stopped")
        return 0

    def warm_up(self) -> None:
        """Every open assignment ready in the gradebook, every worker with the course loaded."""
        ready = []
        for assignment in self.policy.assignments:
            if self.course.path("source", assignment).is_dir():
                self._prepare("course", assignment)
                ready.append(assignment)
        if ready:
            self._pool = pool(self.workers)
            overrides = self._prepare("course", ready[0])
            for _ in range(self.workers):
                self._pool.submit(warm, str(self.course.root), overrides)

    def journal_queue(self) -> int:
        journal = Journal(self.journal.path)
        try:
            return journal.queue_length()
        finally:
            journal.close()

    def _wait(self, seconds: float) -> None:
        if self._jobs:
            futures.wait(list(self._jobs), timeout=seconds, return_when=futures.FIRST_COMPLETED)
        else:
            time.sleep(seconds)

    def tick(self) -> bool:
        """One look at the exchange and the queue; True if something is left to do now."""
        now = time.time()
        self._due = {}   # due dates are read from the gradebook once per look
        self.scan()
        self.finish_jobs()
        for entry in self.journal.in_state("graded"):
            with self._contained(entry.name):
                self.release(entry)
        self.supersede()
        started = 0 if self.stopping else self.dispatch(now)
        ready = [e for e in self.journal.in_state("queued", "deferred")
                 if e.state == "queued" or (e.not_before or 0) <= now]
        return bool(started or self._jobs or self.journal.in_state("graded") or
                    (ready and not self.stopping))

    def recover(self) -> None:
        """After a restart: gradings in flight go back to the queue (the worker skips finished ones)."""
        for entry in self.journal.in_state("grading"):
            self.journal.update(entry.name, "requeued", "the service restarted", state="queued")

    # -- steps ---------------------------------------------------------------------
    def scan(self) -> None:
        """New complete submissions into the journal. One folder can fail only itself: whatever it
        holds or raises, it is refused with a log line, marked, and the rest of the look goes on."""
        known = self.journal.known()
        # Every assignment: a submission for one not open for instant feedback is told so.
        found, refused = exchange.waiting(self.config, None, self._intake.allowed_uids, skip=known | self._bad)
        for name, reason in refused:
            self._refuse(name, reason)
        for item in found:
            if item.name in known or item.name in self._bad:
                continue
            try:
                self._take(item)
            except Exception as error:   # one student's folder: refused, the tick goes on
                self._refuse(item.name, f"could not be taken in ({type(error).__name__}: {error})")

    def _refuse(self, name: str, reason: str) -> None:
        name = printable(name)
        if name in self._bad:
            return
        self._bad.add(name)
        self.journal.refuse(name, printable(reason))
        self._say(f"inbound/{name}: refused, not graded: {printable(reason)}")

    def _take(self, item: exchange.Inbound) -> None:
        try:
            problem, trusted = exchange.vet(self.config, item.name)
        except OSError as error:   # vanished or unreadable while we looked: look again next time
            self._say(f"{item.name}: cannot be read yet ({error.strerror}); will look again")
            return
        when = max(item.when, trusted) if trusted else item.when   # the later time, as course grade takes it
        extra = deadlines.extra_time(self.course.root, item.assignment, item.student)   # their own window
        self.journal.add(item.name, item.student, item.assignment, item.timestamp, when.timestamp(),
                         item.secret, list(item.notebooks))
        if problem:
            self._notice(self.journal.get(item.name), "refused", notices.not_graded(item.assignment, problem),
                         final=True)
        elif not self.policy.is_listed(item.assignment):
            self._notice(self.journal.get(item.name), "not-instant",
                         notices.not_instant(item.assignment, self._duedate(item.assignment)), final=True)
        elif not self.policy.is_open(item.assignment, when - extra):
            self._notice(self.journal.get(item.name), "closed",
                         notices.closed(item.assignment, self.policy.closes(item.assignment) + extra), final=True)
        else:   # queued: the student is told at once when to fetch the feedback
            position = self.journal.queue_length()
            expected = notices.expected_at(time.time(), position, self.workers,
                                           notices.typical_grading_seconds(self.journal.events()))
            self._notice(self.journal.get(item.name), "waiting",
                         notices.waiting(item.assignment, when.timestamp(), position, expected),
                         line=f"received, number {position} in the queue, feedback expected around "
                              f"{notices.when(expected)}")
        if not problem and unrostered(self.course.root, [item.student]):
            self._say(f"warning: {item.student} is not on the roster (course roster); the submission is kept")

    def supersede(self) -> None:
        """Only each student's latest waiting submission is graded (one each side of the deadline)."""
        groups: dict[tuple, list[Entry]] = {}
        for entry in self.journal.in_state("queued", "deferred"):
            late = self._is_late(entry)
            groups.setdefault((entry.student, entry.assignment, late), []).append(entry)
        for entries in groups.values():
            latest = entries[-1]
            for entry in entries[:-1]:
                self._notice(entry, "superseded",
                             notices.superseded(entry.assignment, f"{_utc(latest.submitted):%Y-%m-%d %H:%M:%S} UTC"),
                             final=True)

    def dispatch(self, now: float) -> int:
        """Start gradings, going round the students (fair share, :meth:`InstantFeedback.fair_order`)."""
        started = 0
        running: dict[str, int] = {}
        busy: set[tuple[str, str]] = set()
        for name in self._jobs.values():
            entry = self.journal.get(name)
            running[entry.student] = running.get(entry.student, 0) + 1
            busy.add((entry.student, entry.assignment))
        busy |= {(e.student, e.assignment) for e in self.journal.in_state("graded")}
        queue: dict[str, list[Entry]] = {}
        for entry in self.journal.in_state("queued", "deferred"):
            queue.setdefault(entry.student, []).append(entry)
        starts = {student: self.journal.grading_starts(student) for student in queue}
        last_served = {student: max(times, default=0.0) for student, times in starts.items()}
        waited = {student: min(e.submitted for e in entries) for student, entries in queue.items()}
        for student in self.policy.fair_order(waited, running, last_served):
            if len(self._jobs) >= self.workers:
                break
            for entry in queue[student]:
                if (entry.student, entry.assignment) in busy:
                    continue
                if self.policy.used_up(len(self.journal.grading_starts(entry.student, entry.assignment))):
                    self._notice(entry, "closed", notices.used_up(entry.assignment,
                                                                  self.policy.max_gradings_per_assignment), final=True)
                    continue
                if self._held_back(entry, starts[student], now):
                    continue
                if running.get(student, 0) >= self.policy.max_concurrent_per_student:
                    break   # waits for the student's running grading, without a notice
                with self._contained(entry.name):
                    self._start(entry)
                busy.add((entry.student, entry.assignment))
                running[student] = running.get(student, 0) + 1
                started += 1
                break   # one each round: the next student's turn
        return started

    def _held_back(self, entry: Entry, student_starts: list[float], now: float) -> bool:
        """Over a rate limit (this assignment's, or the student's across assignments): deferred, with a notice."""
        own = self.policy.next_slot(self.journal.grading_starts(entry.student, entry.assignment), now)
        everything = self.policy.next_student_slot(student_starts, now)
        slot = max((s for s in (own, everything) if s is not None), default=None)
        if slot is None:
            return False
        if entry.state != "deferred" or entry.not_before != slot:
            across = everything is not None and (own is None or everything >= own)
            limit = self.policy.max_gradings_per_student if across else self.policy.max_gradings_per_hour
            self.journal.update(entry.name, "deferred", notices.when(slot), state="deferred", not_before=slot)
            self._notice(self.journal.get(entry.name), "deferred", notices.deferred(
                entry.assignment, limit, self.policy.window_seconds, slot, all_assignments=across))
        return True

    def _start(self, entry: Entry) -> None:
        target = AFTER_DEADLINE if self._is_late(entry) and self._has_on_time(entry) else "course"
        course = self._target(target)
        overrides = self._prepare(target, entry.assignment)
        secret = entry.secret
        self.journal.update(entry.name, "dispatched", target, state="grading", target=target,
                            attempts=entry.attempts + 1)
        if self._pool is None:
            self._pool = pool(self.workers)
        job = self._pool.submit(grade_one, str(course.root), overrides, entry.name, secret)
        self._jobs[job] = entry.name

    @contextlib.contextmanager
    def _contained(self, name: str):
        """Whatever one submission raises fails only that submission: logged, closed, the tick goes on."""
        try:
            yield
        except Exception as error:
            reason = printable(f"{type(error).__name__}: {error}")
            self._say(f"{printable(name)}: could not be handled, closed: {reason}")
            try:
                self.journal.update(name, "failed", reason, state="closed", problem=reason)
                entry = self.journal.get(name)
                if entry is not None:
                    self._publish(entry, {nb: notices.not_graded(entry.assignment, (
                        "The grader could not handle this submission; the course staff can see why.")
                    ) for nb in entry.notebook_ids})
            except Exception as again:   # the journal or the exchange itself: the loop says so
                self._say(f"{printable(name)}: not even closed ({type(again).__name__}: {again})")

    def finish_jobs(self) -> None:
        for job in [j for j in self._jobs if j.done()]:
            name = self._jobs.pop(job)
            with self._contained(name):
                self._finish(job, name)

    def _finish(self, job: futures.Future, name: str) -> None:
        entry = self.journal.get(name)
        try:
            result = job.result()
        except futures.process.BrokenProcessPool:
            self._pool = None   # a worker died (the sandbox should prevent it): a new pool, try again
            self._retry(entry, "the grading worker died")
            return
        except Exception as error:  # a bug or an environment problem: say so, keep serving
            self._retry(entry, f"grading crashed: {type(error).__name__}: {error}")
            return
        if result.get("retry"):
            self._retry(entry, result.get("problem") or "collect again")
            return
        self.journal.update(name, "found graded" if result.get("skipped") else "graded",
                            f"{result.get('score')}/{result.get('max_score')}", state="graded",
                            score=result.get("score"), max_score=result.get("max_score"),
                            problem=result.get("problem"), notes=list(result.get("notes", [])),
                            **({} if not result.get("student_message") else {"notice": "problem"}))
        if entry.target == "course" and not result.get("skipped"):
            self._record_for_course_grade(entry, result)
        self.release(self.journal.get(name))

    def _retry(self, entry: Entry, reason: str) -> None:
        if entry.attempts < MAX_ATTEMPTS:
            self.journal.update(entry.name, "requeued", reason, state="queued")
        else:
            self.journal.update(entry.name, "gave up", reason, state="graded", problem=reason)
            self.release(self.journal.get(entry.name))

    def _record_for_course_grade(self, entry: Entry, result: dict) -> None:
        """``course grade`` then finds this submission graded (GradingState) and leaves it alone."""
        try:
            GradingState(self.course, entry.assignment).record(
                entry.student, fingerprint(self.course, entry.assignment, entry.student),
                StudentResult(entry.student, result.get("score"), result.get("max_score"), result.get("seconds", 0.0),
                              result.get("problem"), list(result.get("notes", []))))
        except OSError:
            pass

    def release(self, entry: Entry) -> None:
        """Release a graded submission's feedback (or why it has none) through the exchange."""
        course = self._target(entry.target)
        secret = entry.secret
        with student_lock(course.root, entry.assignment, entry.student, blocking=False) as mine:
            if not mine:
                return   # a TA's `course grade` is on this student right now: next time round
            pages = feedback_pages(course.root, course, entry.assignment, entry.student, secret)
        if pages is None or (entry.problem and entry.notice == "problem"):
            problem = entry.problem or "the grader wrote no feedback"
            text = problem if entry.notice == "problem" else (
                "The grader could not finish running your notebook; the course staff can see why. "
                + " ".join(entry.note_list))
            pages = {nb: notices.not_graded(entry.assignment, text) for nb in entry.notebook_ids}
        else:
            title, lines = self._banner(entry)
            pages = {nb: notices.with_banner(page, title, lines) for nb, page in pages.items()}
            submitted = entry.notebook_ids
            if len(pages) == len(submitted) == 1 and set(pages) != set(submitted):
                # graded under its released name (`Copy of signals.ipynb` → signals): fetch_feedback
                # looks for the name the student submitted
                pages = {submitted[0]: next(iter(pages.values()))}
        self._publish(entry, pages)
        self.journal.update(entry.name, "released", state="released", released=time.time())
        self._log_line(self.journal.get(entry.name))

    def _notice(self, entry: Entry, kind: str, page: str, final: bool = False, line: str = "") -> None:
        pages = {nb: page for nb in entry.notebook_ids}
        self._publish(entry, pages)
        values = {"notice": kind}
        if final:
            values["state"] = "closed" if kind in ("closed", "refused", "not-instant") else kind
            values["released"] = time.time()
        self.journal.update(entry.name, f"notice:{kind}", **values)
        if line:   # "amy 02-signals received, …": the "student assignment:" line stays the graded one
            self._say(f"{entry.student} {entry.assignment} {line}")
        elif kind == "not-instant":
            self._say(f"{entry.student} {entry.assignment}: not open for instant feedback (not in "
                      "c.InstantFeedback.assignments); kept in inbound/ for `course grade`, the student was told")
        elif final:
            self._say(f"{entry.student} {entry.assignment}: {kind} ({self._age(entry):.1f} s after submitting; "
                      f"queue {self.journal.queue_length()})")
        else:
            self._say(f"{entry.student} {entry.assignment}: held back by the rate limit until "
                      f"{notices.when(entry.not_before)} (queue {self.journal.queue_length()})")

    def _publish(self, entry: Entry, pages: dict[str, str]) -> None:
        """Stage the pages as nbgrader's feedback folder and release them, unless already out."""
        secret = entry.secret
        if pages and exchange.already_released(self.config, secret, pages):
            return   # released before a crash: the same bytes are already in the exchange
        stage = self.stage_root / entry.name.replace("+", "_")
        exchange.stage(stage, entry.student, entry.assignment, entry.timestamp, secret, pages)
        exchange.release(self.config, stage, entry.student, entry.assignment)
        shutil.rmtree(stage, ignore_errors=True)

    # -- what the feedback says on top ------------------------------------------------
    def _banner(self, entry: Entry) -> tuple[str, list[str]]:
        due = self._own_due(entry)
        used = len([t for t in self.journal.grading_starts(entry.student, entry.assignment)
                    if t > time.time() - self.policy.window_seconds])
        left = max(0, self.policy.max_gradings_per_hour - used)
        lines = [f"Submitted {_utc(entry.submitted):%Y-%m-%d %H:%M:%S} UTC, graded {notices.when(time.time())}. "
                 f"Instant gradings of {entry.assignment} left in this window: {left} of "
                 f"{self.policy.max_gradings_per_hour}."]
        if entry.target == AFTER_DEADLINE:
            kept = self.course.score(entry.assignment, entry.student)
            lines.append(f"This submission came after the deadline ({due:%Y-%m-%d %H:%M} UTC). Your grade stays the one "
                         f"of your last submission before it" + (f" ({kept.score:g} of {kept.max_score:g} points)" if kept else "")
                         + "; this page shows what this late submission earns under the late policy.")
        elif due is not None and self._is_late(entry):
            lines.append(f"This submission came after the deadline ({due:%Y-%m-%d %H:%M} UTC) and you have none "
                         "before it, so it is your grade, with the late penalty explained below.")
        elif due is not None:
            lines.append(f"Your grade is your last submission before the deadline ({due:%Y-%m-%d %H:%M} UTC); "
                         "a later submission before then replaces this one.")
        else:
            lines.append("Your grade is your last submission before the deadline; a later submission replaces this one.")
        if due is not None and deadlines.extension_for(self.course.root, entry.assignment, entry.student):
            lines.append(f"Your own deadline, with the extension you were given, is {due:%Y-%m-%d %H:%M} UTC.")
        if entry.note_list:
            lines.append("The grader noted: " + "; ".join(entry.note_list))
        return f"{entry.assignment}: feedback on your submission", lines

    # -- courses, deadlines -------------------------------------------------------------
    def _target(self, target: str) -> Course:
        if target not in self._courses:   # AFTER_DEADLINE: a course folder with its own gradebook
            root = self.state_dir / AFTER_DEADLINE
            root.mkdir(parents=True, exist_ok=True)
            source = root / "source"
            if not source.exists():
                source.symlink_to(self.course.path("source").resolve(), target_is_directory=True)
            skip = {"CourseDirectory.root", "CourseDirectory.db_url"}
            overrides = {f"{section}.{name}": value for section, values in self.config.items()
                         if isinstance(values, dict) for name, value in values.items()
                         if f"{section}.{name}" not in skip}
            self._courses[target] = Course(root, **overrides)
        return self._courses[target]

    def _prepare(self, target: str, assignment: str) -> dict:
        key = (target, assignment)
        if key not in self._overrides:
            course = self._target(target)
            self._overrides[key] = _prepare_gradebook(course, assignment)
        if target == AFTER_DEADLINE:   # the same deadline, so the late policy reads the same
            with self._target(target).gradebook() as gradebook:
                gradebook.update_or_create_assignment(assignment, duedate=self._duedate(assignment))
            deadlines.share_record(self.course.root, self._target(target).root)   # and the same extensions
        return self._overrides[key]

    def _duedate(self, assignment: str) -> datetime | None:
        if assignment not in self._due:
            try:
                with self.course.gradebook() as gradebook:
                    due = gradebook.find_assignment(assignment).duedate
            except MissingEntry:
                due = None
            self._due[assignment] = due.replace(tzinfo=timezone.utc) if due is not None else None
        return self._due[assignment]

    def _own_due(self, entry: Entry) -> datetime | None:
        """The student's own deadline: the assignment's, plus their extension."""
        return deadlines.due_for(self._duedate(entry.assignment), self.course.root, entry.assignment, entry.student)

    def _is_late(self, entry: Entry) -> bool:
        due = self._own_due(entry)
        return due is not None and _utc(entry.submitted) > due

    def _has_on_time(self, entry: Entry) -> bool:
        """The student has a submission before the deadline: graded, waiting, or already in submitted/."""
        due = self._own_due(entry)
        for other in self.journal.of_student(entry.student, entry.assignment):
            if other.name != entry.name and _utc(other.submitted) <= due and other.state not in ("superseded", "closed"):
                return True
        folder = self.course.path("submitted", entry.student, entry.assignment)
        existing = self.course.coursedir.get_existing_timestamp(str(folder)) if folder.is_dir() else None
        return existing is not None and existing.replace(tzinfo=timezone.utc) <= due

    # -- output ------------------------------------------------------------------------
    def _age(self, entry: Entry) -> float:
        return time.time() - entry.submitted

    def _log_line(self, entry: Entry) -> None:
        score = (f"{entry.score:g}/{entry.max_score:g}" if entry.score is not None and entry.max_score
                 else "not graded")
        extra = f" [{entry.problem}]" if entry.problem else ""
        where = " (after the deadline: grade kept)" if entry.target == AFTER_DEADLINE else ""
        self._say(f"{entry.student} {entry.assignment}: {score}{where}, feedback {self._age(entry):.1f} s after "
                  f"submitting (queue {self.journal.queue_length()}){extra}")

    def _say(self, line: str) -> None:
        print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {line}", file=self.out, flush=True)


# -- the command ---------------------------------------------------------------------

def _not_the_exchange_listing(record: logging.LogRecord) -> bool:
    """NbGraderAPI lists the released assignments at INFO whenever a Course starts (workers too)."""
    return record.levelno >= logging.WARNING or not record.pathname.endswith(os.path.join("exchange", "default", "list.py"))


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_settings(pairs: list[str]) -> dict:
    """``["Execute.timeout=5", "InstantFeedback.assignments=['02-signals']"]`` → overrides."""
    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise UsageError(f"--set takes SECTION.NAME=VALUE (for example InstantFeedback.window_seconds=600), "
                             f"not {pair!r}")
        settings[key.strip()] = _value(value.strip())
    return settings


def add_arguments(parser: argparse.ArgumentParser, default_root: str) -> None:
    parser.add_argument("--root", default=default_root, help="the TA's course folder holding the gradebook "
                                                             "(default: $NN_COURSE_GRADING_ROOT or ~/nn-course-grading)")
    parser.add_argument("--exchange", help="the nbgrader exchange (default: Exchange.root in nbgrader_config.py)")
    parser.add_argument("--workers", type=int, default=None, help="parallel grading workers (default: one per core)")
    parser.add_argument("--once", action="store_true", help="grade what is waiting, release its feedback, exit")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                        help="a config setting for this run, e.g. InstantFeedback.max_gradings_per_hour=5")


def _course_id() -> str:
    return PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config().CourseDirectory.course_id


def run(args: argparse.Namespace) -> int:
    """``course serve``: every mistake on the command line is found before the course folder is touched."""
    overrides = parse_settings(args.set)
    if args.exchange:
        exchange_root = Path(args.exchange).expanduser().resolve()
        if not exchange_root.is_dir():
            raise UsageError(f"no exchange folder {exchange_root}; create it (nbgrader's exchange, "
                             "writable by students) or pass --exchange")
        if not (exchange_root / _course_id() / "inbound").is_dir():
            raise UsageError(f"no inbound folder {exchange_root / _course_id() / 'inbound'}: release an assignment "
                             f"first (nbgrader release_assignment) or pass the right --exchange")
        overrides["Exchange.root"] = str(exchange_root)
    args.root = str(prepare_grading_root(args.root or grading_root()))
    if not logging.getLogger().isEnabledFor(logging.INFO):   # nbgrader's exchange listing on every start
        logging.getLogger("traitlets").addFilter(_not_the_exchange_listing)
    course = Course(args.root, **overrides)
    inbound = exchange.inbound_folder(course.config)
    if not inbound.is_dir():
        raise UsageError(f"no inbound folder {inbound}: release an assignment first "
                         f"(nbgrader release_assignment) or pass --exchange")
    service = Service(course, workers=args.workers)

    def stop(signum, frame):
        if service.stopping:
            raise KeyboardInterrupt
        service.stopping = True
        service._say("course serve: stopping after the gradings in progress (signal again to stop now)")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return service.run(once=args.once)
    except KeyboardInterrupt:
        return 130
