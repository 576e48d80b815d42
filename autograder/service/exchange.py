"""nbgrader's exchange, one submission at a time, with nbgrader's own classes.

- :func:`waiting` lists the complete submissions in ``<exchange>/<course>/inbound``
  (nbgrader's ``student+assignment+timestamp+random`` folders; a folder counts
  once ``submit`` has written its ``submission_secret.txt``, its last file),
  reading them only through :mod:`autograder.safefiles`, and which folders it refused.
- :func:`vet` and :func:`collect` check and copy one of them into a course's
  ``submitted/`` with the course's vetted ``ExchangeCollect`` (narrowed to that one folder).
- :func:`release` puts one student's feedback into ``<exchange>/<course>/feedback``
  with nbgrader's ``ExchangeReleaseFeedback``: named by the hash of the
  submission's secret and the notebook, which is what the student's
  ``fetch_feedback`` looks for.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.utils import notebook_hash, parse_utc
from traitlets.config import Config

from autograder.intake import CourseIntake, VettedExchangeCollect, refusal
from autograder import safefiles
from autograder.safefiles import student_id_problem

SECRET = "submission_secret.txt"
TIMESTAMP = "timestamp.txt"


@dataclass(frozen=True)
class Inbound:
    name: str          # the folder's name in inbound/
    student: str
    assignment: str
    timestamp: str     # as nbgrader wrote it
    when: datetime     # the same, parsed (UTC)
    secret: str = ""   # nbgrader's submission_secret.txt (names the released feedback)
    notebooks: tuple[str, ...] = ()   # the notebook ids submitted (what fetch_feedback hashes)


#: nbgrader writes a secret of 32 hex digits; anything much longer is not nbgrader's.
MAX_SECRET_BYTES = 256


def inbound_folder(config: Config) -> Path:
    return Path(config.Exchange.root) / config.CourseDirectory.course_id / "inbound"


def feedback_folder(config: Config) -> Path:
    return Path(config.Exchange.root) / config.CourseDirectory.course_id / "feedback"


def parse_name(name: str) -> tuple[str, str, str] | None:
    """``student+assignment+timestamp[+random]`` → its parts, as nbgrader's collect splits it."""
    parts = name.rsplit("+", 3)
    if len(parts) == 4:
        student, assignment, timestamp, _ = parts
    elif len(parts) == 3:
        student, assignment, timestamp = parts
    else:
        return None
    return student, assignment, timestamp


def name_problem(name: str) -> str | None:
    """Why an inbound folder's name is not one ``nbgrader submit`` could have written for a student, or None."""
    problem = safefiles.name_problem(name)
    if problem:
        return problem
    student, assignment, timestamp = parse_name(name)
    problem = student_id_problem(student) or student_id_problem(assignment)
    if problem:
        return problem
    try:
        parse_utc(timestamp)
    except Exception:   # dateutil raises several kinds for a string that is not a time
        return f"{safefiles.printable(timestamp)!r} is not a submission time"
    return None


def _read(folder: Path, name: str, owners: set[int] | None) -> tuple[str, tuple[str, ...]]:
    """The secret and the notebook ids of inbound folder *name*, read through :mod:`autograder.safefiles`."""
    raw = safefiles.read_student_file(folder, name, SECRET, max_bytes=MAX_SECRET_BYTES, owners=owners)
    try:
        secret = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise safefiles.UnsafeSubmission("a submission secret that is not nbgrader's", SECRET, "submit again") from None
    notebooks = tuple(entry[:-len(".ipynb")] for entry, st in safefiles.student_entries(folder, name)
                      if entry.endswith(".ipynb") and stat.S_ISREG(st.st_mode))
    return secret, notebooks


def waiting(config: Config, assignments: set[str] | None = None, owners_of=None, skip: set[str] = frozenset()
            ) -> tuple[list[Inbound], list[tuple[str, str]]]:
    r"""Complete submissions in the inbound folder, oldest first; and (name, why) of the folders refused.

    Nothing in a folder is read but its ``submission_secret.txt`` and its
    listing, both through :mod:`autograder.safefiles` (no link followed,
    no FIFO opened, at most :data:`MAX_SECRET_BYTES`). A folder whose name
    is not ``nbgrader submit``'s, or whose secret is not a plain small file
    (of the student's Unix user, when *owners_of*\ ``(student)`` gives the
    uids allowed), is refused; one still being written is looked at again.
    Names in *skip* (already taken or refused) are not looked at.
    """
    folder = inbound_folder(config)
    found: list[Inbound] = []
    refused: list[tuple[str, str]] = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return found, refused
    for name in names:
        parts = parse_name(name)
        if not parts or (assignments is not None and parts[1] not in assignments) or name in skip:
            continue
        problem = name_problem(name)
        if problem:
            refused.append((safefiles.printable(name), problem))
            continue
        when = parse_utc(parts[2])
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        try:
            secret, notebooks = _read(folder, name, owners_of(parts[0]) if owners_of else None)
        except FileNotFoundError:
            continue   # still being written by submit: look again later
        except safefiles.UnsafeSubmission as unsafe:
            refused.append((name, str(unsafe)))
            continue
        except OSError as error:   # vanished or unreadable while we looked
            refused.append((name, f"cannot be read ({error.strerror})"))
            continue
        if len(secret) >= 32:
            found.append(Inbound(name, parts[0], parts[1], parts[2], when, secret, notebooks))
    return sorted(found, key=lambda item: (item.when, item.name)), refused


def secret_of(config: Config, name: str) -> str:
    return _read(inbound_folder(config), name, None)[0]


def notebook_ids(config: Config, name: str) -> list[str]:
    """The notebooks of the submission as the student's cache holds them (what fetch_feedback hashes)."""
    return sorted(_read(inbound_folder(config), name, None)[1])


def _quiet_log() -> logging.Logger:
    log = logging.getLogger("course-serve.exchange")
    log.setLevel(logging.ERROR)
    return log


class CollectOne(VettedExchangeCollect):
    """The course's vetted ``ExchangeCollect`` (:class:`autograder.intake.VettedExchangeCollect`:
    valid student id, files owned by the student's Unix user, regular files only, copied without
    following links, trusted time written as ``timestamp.txt``) for exactly one inbound folder."""

    def __init__(self, settings: CourseIntake, wanted: str, **kwargs):
        super().__init__(settings, **kwargs)
        self.wanted = wanted
        self.refused: str | None = None

    def init_src(self):
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        record = self._path_to_record(os.path.join(self.inbound_path, self.wanted))
        self.refused = student_id_problem(record["username"]) or self._vet(record["username"], record)
        self.src_records = [] if self.refused else [record]

    def trusted_time(self) -> datetime | None:
        return self.times.get(self.wanted)


def _collector(config: Config, name: str) -> CollectOne:
    student, assignment, _ = parse_name(name)
    config = copy.deepcopy(config)
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    coursedir = CourseDirectory(config=config)
    app = CollectOne(CourseIntake(config=config), name, coursedir=coursedir,
                     authenticator=Authenticator(config=config), config=config, log=_quiet_log())
    app.update = True
    return app


def vet(config: Config, name: str) -> tuple[str | None, datetime | None]:
    """(why this submission is refused, or None; its trusted time, UTC) — nothing is copied."""
    app = _collector(config, name)
    app.init_src()
    trusted = app.trusted_time()
    return app.refused, trusted.replace(tzinfo=timezone.utc) if trusted else None


def collect(config: Config, name: str) -> tuple[Path, str | None]:
    """Copy inbound folder *name* into ``submitted/<student>/<assignment>/`` of the course in *config*.

    Returns the folder and why the submission was refused (None when it was taken)."""
    app = _collector(config, name)
    student, assignment, _ = parse_name(name)
    app.start()
    dest = Path(app._dest(student))
    if app.refused:
        return dest, app.refused
    refusal_note = refusal(app.notes.get(student, []))
    return dest, refusal_note


def release(config: Config, staging_root: Path, student: str, assignment: str) -> list[Path]:
    """Release ``<staging_root>/feedback/<student>/<assignment>/*.html`` with nbgrader's release_feedback."""
    config = copy.deepcopy(config)
    config.CourseDirectory.root = str(staging_root)
    config.CourseDirectory.feedback_directory = "feedback"
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    coursedir = CourseDirectory(config=config)
    app = ExchangeReleaseFeedback(coursedir=coursedir, authenticator=Authenticator(config=config),
                                  config=config, log=_quiet_log())
    app.start()
    staged = Path(coursedir.format_path("feedback", student, assignment))
    secret = (staged / SECRET).read_text()
    return [feedback_folder(config) / f"{notebook_hash(secret=secret, notebook_id=p.stem)}.html"
            for p in sorted(staged.glob("*.html"))]


def stage(staging_root: Path, student: str, assignment: str, timestamp: str, secret: str,
          pages: dict[str, str]) -> Path:
    """Lay out feedback pages as ``release_feedback`` reads them (notebook id → HTML)."""
    folder = staging_root / "feedback" / student / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / TIMESTAMP).write_text(timestamp)
    (folder / SECRET).write_text(secret)
    for notebook, page in pages.items():
        (folder / f"{notebook}.html").write_text(page)
    return folder


def already_released(config: Config, secret: str, pages: dict[str, str]) -> bool:
    """Every page is in the exchange with exactly this content (a release that finished before a crash)."""
    for notebook, page in pages.items():
        name = f"{notebook_hash(secret=secret, notebook_id=notebook)}.html"
        try:   # a folder students can see into: read as a student's file (no link, no FIFO, bounded)
            released = safefiles.read_student_file(feedback_folder(config), name, max_bytes=len(page.encode()) + 1)
        except (OSError, safefiles.UnsafeSubmission):
            return False
        if hashlib.sha256(released).digest() != hashlib.sha256(page.encode()).digest():
            return False
    return True
