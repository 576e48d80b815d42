"""Bring a class's submissions into ``submitted/<student>/<assignment>/``.

Three kinds of input are understood:

* a folder in nbgrader's layout, ``<student>/<assignment>/*.ipynb`` (or
  ``<student>/*.ipynb``);
* an nbgrader exchange (a folder holding ``inbound/``, or ``<course_id>/inbound``),
  read with nbgrader's own ``ExchangeCollect`` (which submissions are the
  latest) and copied by :class:`VettedExchangeCollect`;
* the zip an LMS exports (Canvas: ``login_[LATE_]1234_56789_signals.ipynb``;
  Moodle: ``Full Name_1234_assignsubmission_file_/signals.ipynb`` or the flat
  form), collected with nbgrader's ``zip_collect`` and the course's plugins in
  :mod:`autograder.plugins.lms` (bounded extraction, file-name patterns in
  ``nbgrader_config.py``).

Intake copies data, never links: a submission holding a symbolic or hard link,
a device, a FIFO or a socket is refused for that student with a note (nothing
it points to is read; :mod:`autograder.safefiles`), and every student id that
becomes a folder passes :func:`autograder.safefiles.student_id_problem`.

Submission times come from trusted sources only (and are written as nbgrader's
``timestamp.txt``; a student's own ``timestamp.txt`` is never used):

* exchange: nbgrader's own submission time (the inbound folder's name, as
  ``nbgrader submit`` wrote it), or the time its files last changed (their
  inode change time, which no user can set back) when that is later;
* LMS zip: a time only if the LMS writes one into file names (a ``timestamp``
  group in a pattern); Canvas's ``LATE`` marker is recorded and counts as at
  least one day late (:mod:`autograder.plugins.late`); archive member dates are not
  used (anyone who builds a zip sets them);
* folder: no trusted time, so no late penalty;
* what is already in ``submitted/`` (put there by the TA or nbgrader): its
  ``timestamp.txt``.

On a shared exchange every student writes ``inbound/`` as their own Unix user,
so a submission whose files belong to another user than the student it names
is refused, with a WARNING naming both, and the student's previous submission
is kept (``CourseIntake.owner_check`` in ``nbgrader_config.py``).

Then every student's folder is tidied the same way: a renamed notebook
(``Copy of signals (1).ipynb``, ``signals-1.ipynb``) or one in a nested folder
is graded under its released name, and every other file is kept and reported.
Nothing is dropped silently: each decision becomes a note for the summary.
"""

from __future__ import annotations

import copy
import glob
import itertools
import logging
import os
import pwd
import re
import shutil
import stat
import tempfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode
from traitlets.config import Configurable

from autograder.course import Course
from autograder.plugins.late import record_times
from autograder.plugins.lms import NBGRADER_FILES, ArchiveRefused, LmsCollector, SafeExtractor, slug  # noqa: F401
from autograder.safefiles import (IGNORED_PARTS, Limits, UnsafeSubmission, copy_tree_safely, kind_of, printable,
                                  student_id_problem, unsafe_entries)

#: A student's note that starts with this means their new submission was not taken.
REFUSED = "REFUSED: "
#: Notes that belong to nobody (become WARNING lines in the summary).
INTAKE = "(intake)"


class IntakeError(ValueError):
    """The whole input is refused (one line for the TA; nothing was taken from it)."""


class CourseIntake(Configurable):
    """How submissions are taken in (``c.CourseIntake`` in ``nbgrader_config.py``)."""

    owner_check = Enum(["unix-user", "off"], "unix-user", help=(
        "Exchange submissions: 'unix-user' refuses one whose files are not owned by the Unix user of the "
        "student it names (the login equal to the student id, or student_uids); 'off' trusts the name."
    )).tag(config=True)
    student_uids = Dict(value_trait=Int(), help="student id → uid, where logins and student ids differ.").tag(config=True)
    trusted_owners = List(Unicode(), help="Logins whose files are accepted as anyone's submission "
                                          "(an instructor account that submits for students).").tag(config=True)
    max_submission_files = Int(2_000, help="Most files in one student's submission.").tag(config=True)
    max_submission_mb = Int(256, help="Most megabytes in one student's submission.").tag(config=True)
    clock_slack_minutes = Float(1.0, help="Exchange: files changed this long after the time a submission "
                                           "claims are still on that time.").tag(config=True)
    check_change_time = Bool(True, help="Exchange: use the files' inode change time when it is later than the "
                                        "claimed time (turn off after restoring an exchange from a backup).").tag(config=True)

    def limits(self) -> Limits:
        return Limits(max_files=self.max_submission_files, max_bytes=self.max_submission_mb * 2**20)

    def expected_uid(self, student: str) -> int | None:
        """The uid of *student*'s Unix user (``student_uids``, else the login equal to the id), or None."""
        if student in self.student_uids:
            return self.student_uids[student]
        try:
            return pwd.getpwnam(student).pw_uid
        except KeyError:
            return None

    def allowed_uids(self, student: str) -> set[int] | None:
        """The uids whose files may be *student*'s exchange submission (None: ``owner_check`` is off)."""
        if self.owner_check != "unix-user":
            return None
        uids = {self.expected_uid(student)} - {None}
        for login in self.trusted_owners:
            try:
                uids.add(pwd.getpwnam(login).pw_uid)
            except KeyError:
                pass
        return uids


def _refuse(notes: dict[str, list[str]], student: str, reason: str, kept: bool) -> None:
    notes.setdefault(student, []).append(
        REFUSED + reason + ("; your previous submission is graded instead" if kept else ""))


def refusal(lines: list[str]) -> str | None:
    """The refusal among a student's notes, without its prefix."""
    return next((line.removeprefix(REFUSED) for line in lines if line.startswith(REFUSED)), None)


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S.%f} UTC"


# -- tidying -------------------------------------------------------------------

def normalized(name: str) -> str:
    """A notebook name without the marks of copying and re-uploading."""
    stem = name.lower().removesuffix(".ipynb")
    stem = re.sub(r"^(copy of |kopie van |copie de )+", "", stem)
    stem = re.sub(r"( - copy| copy)$", "", stem)
    stem = re.sub(r"\s*\(\d+\)$", "", stem)
    stem = re.sub(r"[-_ ]\d+$", "", stem)
    return stem.strip()


def tidy_submission(folder: Path, expected: list[str]) -> list[str]:
    """Give each expected notebook its released name in *folder*; return notes.

    *expected* are notebook names without ``.ipynb``. *folder* holds regular
    files and folders only (intake vetted it).
    """
    notes: list[str] = []
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
             and not any(part in IGNORED_PARTS for part in p.relative_to(folder).parts)]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    used: set[Path] = set()
    for name in expected:
        target = folder / f"{name}.ipynb"
        if target.exists():
            used.add(target)
            continue
        candidates = [p for p in notebooks if p not in used and normalized(p.name) == name.lower()]
        if not candidates and len(expected) == 1:
            candidates = [p for p in notebooks if p not in used]
        if not candidates:
            notes.append(f"no notebook {name}.ipynb in the submission")
            continue
        chosen = max(candidates, key=lambda p: (p.lstat().st_mtime, p.name))
        shutil.move(str(chosen), target)
        used.add(target)
        notes.append(f"graded {chosen.relative_to(folder).as_posix()!r} as {name}.ipynb")
    for other in notebooks:
        if other not in used and other.exists():
            notes.append(f"extra notebook {other.relative_to(folder).as_posix()!r} kept, not graded")
    extras = [p.relative_to(folder).as_posix() for p in files
              if p.suffix != ".ipynb" and p.name not in NBGRADER_FILES and p.exists()]
    if extras:
        notes.append("extra files kept: " + ", ".join(extras[:8]) + (" …" if len(extras) > 8 else ""))
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return notes


def released_files(course: Course, assignment: str) -> set[str]:
    """Relative paths of the data files the release hands out with the notebooks (what a submission may carry)."""
    release = course.path("release", assignment)
    if not release.is_dir():
        release = course.path("source", assignment)
    return {p.relative_to(release).as_posix() for p in release.rglob("*")
            if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"
            and not any(part in IGNORED_PARTS for part in p.relative_to(release).parts)}


def set_aside_extras(course: Course, assignment: str, student: str) -> list[str]:
    """Move every file of the submission that is neither a notebook nor a data file the release names
    into ``.grading/extra-files/<assignment>/<student>.zip`` (for the TA; a zip no server renders as a
    page), so nothing else reaches ``autograded/`` and ``feedback/`` or goes back to anyone; return a note.

    A student's ``evil.html`` beside the notebook would otherwise be copied by nbgrader to
    ``autograded/`` (formgrader serves it in the TA's origin) and ``feedback/`` (released as a page).
    """
    import zipfile

    folder = course.path("submitted", student, assignment)
    allowed = released_files(course, assignment) | set(NBGRADER_FILES)
    extras = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"
                    and p.relative_to(folder).as_posix() not in allowed)
    if not extras:
        return []
    keep = course.root / ".grading" / "extra-files" / assignment / f"{student}.zip"
    keep.parent.mkdir(parents=True, exist_ok=True)
    partial = keep.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in extras:
            archive.write(path, path.relative_to(folder).as_posix())
    os.replace(partial, keep)
    names = [p.relative_to(folder).as_posix() for p in extras]
    for path in extras:
        path.unlink()
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return [f"extra files kept for the course staff, not graded and not returned: {', '.join(names[:8])}"
            + (" …" if len(names) > 8 else "") + f" ({keep.relative_to(course.root)})"]


def _quarantine(course: Course, student_dir: Path, assignment: str) -> Path:
    """Move a submission out of ``submitted/`` (renaming never follows a link)."""
    place = course.root / ".grading" / "refused" / student_dir.name
    place.mkdir(parents=True, exist_ok=True)
    moved = place / assignment
    if moved.exists() or moved.is_symlink():
        shutil.rmtree(moved) if not moved.is_symlink() else moved.unlink()
    source = student_dir if student_dir.is_symlink() else student_dir / assignment
    os.replace(source, moved)
    return moved


def _vet_submitted(course: Course, assignment: str, notes: dict[str, list[str]]) -> None:
    """Refuse what in ``submitted/`` is not regular files and folders under a valid id."""
    submitted = course.path("submitted")
    if not submitted.is_dir():
        return
    for student_dir in sorted(submitted.iterdir()):
        folder = student_dir / assignment
        if not (student_dir.is_symlink() or folder.is_symlink() or folder.is_dir()):
            continue
        problem = student_id_problem(student_dir.name)
        if problem:
            moved = _quarantine(course, student_dir, assignment)
            notes.setdefault(INTAKE, []).append(f"submitted/{student_dir.name} not graded: {problem} "
                                                f"(moved to {moved.relative_to(course.root)})")
            continue
        links = (["a link instead of a folder, " + (student_dir if student_dir.is_symlink() else folder).name]
                 if student_dir.is_symlink() or folder.is_symlink() else unsafe_entries(folder))
        if links:
            _quarantine(course, student_dir, assignment)
            _refuse(notes, student_dir.name, f"your submission contained {links[0]}; upload the notebook file "
                                              f"itself" + (f" ({len(links) - 1} more)" if len(links) > 1 else ""),
                    kept=False)


# -- folders -------------------------------------------------------------------

def _from_folder(course: Course, assignment: str, source: Path, settings: CourseIntake) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    times: dict[str, dict] = {}
    for student_dir in sorted(source.iterdir()):
        name = student_dir.name
        st = student_dir.lstat()
        if name in IGNORED_PARTS:
            continue
        if stat.S_ISREG(st.st_mode):
            notes.setdefault(INTAKE, []).append(f"file outside any student folder not graded: {printable(name)}")
            continue
        problem = student_id_problem(name)
        if problem:
            notes.setdefault(INTAKE, []).append(f"folder {printable(name)!r} not graded: {problem}; rename it")
            continue
        target = course.path("submitted", name, assignment)
        kept = target.is_dir()
        if not stat.S_ISDIR(st.st_mode):
            _refuse(notes, name, f"your submission was {kind_of(st.st_mode)} instead of a folder; "
                                 "upload the notebook file itself", kept)
            continue
        inner = student_dir / assignment
        found = notes.setdefault(name, [])
        took_whole = not (inner.is_dir() or inner.is_symlink())
        if took_whole:
            others = [printable(p.name) for p in student_dir.iterdir() if p.is_dir() and not p.is_symlink()]
            found += [f"no {assignment}/ folder: took the student's folder as it is"] + (
                [f"other folders: {', '.join(others)}"] if others else [])
        folder = student_dir if took_whole else inner
        try:
            copy_tree_safely(folder, target, settings.limits(), skip=NBGRADER_FILES)
        except UnsafeSubmission as unsafe:
            _refuse(notes, name, str(unsafe), kept)
            continue
        if (folder / "timestamp.txt").exists() or (folder / "timestamp.txt").is_symlink():
            found.append("timestamp.txt in the submission ignored: a folder carries no trusted submission time")
        times[name] = {"late_marker": False, "source": "folder (no trusted time)"}
    record_times(course.root, assignment, times)
    return notes


# -- LMS zips ------------------------------------------------------------------

def _from_zip(course: Course, assignment: str, archive: Path) -> dict[str, list[str]]:
    """nbgrader's ``zip_collect`` with the course's extractor and collector (see nbgrader_config.py)."""
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory

    # zip_collect works in <course root>/<downloaded>/<assignment>/{archive,extracted}
    downloaded = Path(tempfile.mkdtemp(prefix=".lms-", dir=course.root))
    try:
        archives = downloaded / assignment / "archive"
        archives.mkdir(parents=True)
        shutil.copy(archive, archives / archive.name)
        config = copy.deepcopy(course.config)   # Config.copy() shares the sections
        config.Application.log_level = "WARN"  # ZipCollectApp spells it so
        config.ZipCollectApp.extractor_plugin = SafeExtractor
        app = ZipCollectApp(config=config)
        app.coursedir = CourseDirectory(config=config)
        app.coursedir.assignment_id = assignment
        app.downloaded_directory = downloaded.name
        app.force = True
        app.init_plugins()
        app.log.setLevel(logging.ERROR)   # what it skips and creates, the notes below say in full
        extractor, collector = app.extractor_plugin_inst, app.collector_plugin_inst
        extracted = downloaded / assignment / app.extracted_directory
        collector.root = extracted
        try:
            app.extract_archive_files()
        except ArchiveRefused as refused:
            raise IntakeError(f"{archive.name} refused: {refused}") from None
        except (OSError, EOFError, RuntimeError) as error:
            raise IntakeError(f"{archive.name} cannot be unpacked ({type(error).__name__}: {error})") from None
        notes: dict[str, list[str]] = {}
        _refuse_unsafe_members(course, assignment, extractor, collector, extracted, notes)
        try:
            app.process_extracted_files()
        except SystemExit as stop:  # ZipCollectApp.fail() exits; keep the run going
            raise IntakeError(f"zip_collect could not collect {archive.name} (see the log above)") from stop
        for student in sorted(collector.collected):
            notes.setdefault(student, [])
            for name in collector.ignored.get(student, []):
                notes[student].append(f"{name} in the upload ignored: submission times come from the LMS")
        for name, problem in collector.invalid:
            notes.setdefault(INTAKE, []).append(f"not graded: {name}: {problem}")
        for name in collector.unmatched:
            notes.setdefault(INTAKE, []).append(f"file name not recognised, not graded: {name}")
        record_times(course.root, assignment, {
            student: {"late_marker": student in collector.late,
                      "source": "LMS late marker (no time)" if student in collector.late else "LMS zip (no time)"}
            for student in collector.collected})
        return notes
    finally:
        shutil.rmtree(downloaded, ignore_errors=True)


def _refuse_unsafe_members(course, assignment, extractor, collector, extracted: Path, notes) -> None:
    """A student with a refused member (link, bomb, path outside) is refused whole; the rest is listed."""
    refused: dict[str, str] = {}
    for name, why in extractor.refused:
        info = collector.match(name.replace("\\", "/").lstrip("/"))
        student = info.get("student_id") if info else None
        if student and not student_id_problem(student):
            refused.setdefault(student, f"your upload {Path(name).name!r} was not taken: {why}; "
                                        "upload the notebook file itself")
        else:
            notes.setdefault(INTAKE, []).append(f"archive member {name!r} not unpacked: {why}")
    if not refused:
        return
    for path in sorted(extracted.rglob("*")):
        if path.is_file():
            info = collector.match(path.relative_to(extracted).as_posix())
            if info and info.get("student_id") in refused:
                path.unlink()
    for student, reason in refused.items():
        _refuse(notes, student, reason, course.path("submitted", student, assignment).is_dir())


# -- nbgrader exchange ---------------------------------------------------------

class VettedExchangeCollect(ExchangeCollect):
    """nbgrader's ``ExchangeCollect`` that takes only what it can trust.

    For each student, the latest inbound submission that passes is taken: the
    student id is valid, its files belong to the student's Unix user, and it
    holds regular files and folders only. It is copied without following
    anything, and its trusted time is written as ``timestamp.txt``.
    """

    def __init__(self, settings: CourseIntake, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.check_owner = False          # the owner is checked (and enforced) below
        self.notes: dict[str, list[str]] = {}
        self.times: dict[str, datetime] = {}

    # which submission of each student
    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified: set c.CourseDirectory.course_id")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        pattern = os.path.join(self.inbound_path, f"*+{self.coursedir.assignment_id}+*")
        by_student = defaultdict(list)
        for path in sorted(glob.glob(pattern)):
            try:   # nbgrader's own reading of the name: student+assignment+time[+random]
                record = self._path_to_record(path)
            except (ExchangeError, ValueError, OverflowError):
                self.notes.setdefault(INTAKE, []).append(
                    f"exchange entry {os.path.basename(path)!r} not collected: its name is not student+assignment+time")
                continue
            by_student[record["username"]].append(record)
        self.src_records = []
        for student, records in sorted(by_student.items()):
            problem = student_id_problem(student)
            if problem:
                self.notes.setdefault(INTAKE, []).append(
                    f"exchange submission {records[0]['filename']!r} not collected: {problem}")
                continue
            reasons = []
            for record in self._sort_by_timestamp(records):
                reason = self._vet(student, record)
                if reason is None:
                    self.src_records.append(record)
                    break
                reasons.append(reason)
            if reasons:
                kept = bool(self.src_records and self.src_records[-1]["username"] == student) or \
                    os.path.isdir(self._dest(student))
                _refuse(self.notes, student, reasons[0], kept)

    def _dest(self, student: str) -> str:
        return self.coursedir.format_path(self.coursedir.submitted_directory, student, self.coursedir.assignment_id)

    def _expected_uid(self, student: str) -> int | None:
        return self.settings.expected_uid(student)

    def _vet(self, student: str, record: dict) -> str | None:
        """Why this inbound submission cannot be taken (and a WARNING if it is someone else's), or None."""
        path = Path(self.inbound_path) / record["filename"]
        st = path.lstat()
        if not stat.S_ISDIR(st.st_mode):
            return f"your exchange submission was {kind_of(st.st_mode)} instead of a folder; submit again"
        entries = [(path, st)] + [(p, p.lstat()) for p in itertools.islice(
            path.rglob("*"), self.settings.max_submission_files + 1)]
        if len(entries) > self.settings.max_submission_files + 1:
            return (f"your submission holds more than {self.settings.max_submission_files} files; "
                    "hand in the notebook and the data it reads, nothing else")
        if self.settings.owner_check == "unix-user":
            expected = self._expected_uid(student)
            for entry, entry_st in entries:
                if entry_st.st_uid != expected and _login(entry_st.st_uid) not in self.settings.trusted_owners:
                    what = "it" if entry == path else repr(entry.relative_to(path).as_posix())
                    self.notes.setdefault(INTAKE, []).append(
                        f"exchange submission {record['filename']!r} claims to be {student}'s but {what} belongs "
                        f"to {_owner(entry_st.st_uid)}, not {student} ("
                        + (f"{_owner(expected)}" if expected is not None else f"there is no Unix user {student}")
                        + f"): refused, {student}'s previous submission is kept")
                    return "an exchange submission under your name was not made by your user and was refused"
        unsafe = unsafe_entries(path)
        if unsafe:
            return (f"your submission contained {unsafe[0]}; upload the notebook file itself"
                    + (f" ({len(unsafe) - 1} more)" if len(unsafe) > 1 else ""))
        self.times[record["filename"]] = self._trusted_time(student, record, entries)
        return None

    def _trusted_time(self, student: str, record: dict, entries) -> datetime:
        claimed = record["timestamp"]            # nbgrader's own: the name `nbgrader submit` gave the folder
        changed = datetime.fromtimestamp(max(st.st_ctime for _, st in entries), timezone.utc).replace(tzinfo=None)
        slack = self.settings.clock_slack_minutes * 60
        if self.settings.check_change_time and (changed - claimed).total_seconds() > slack:
            self.notes.setdefault(student, []).append(
                f"the exchange submission claims {claimed:%Y-%m-%d %H:%M} UTC but its files were last changed at "
                f"{changed:%Y-%m-%d %H:%M} UTC: the later time is used")
            return changed
        return claimed

    # copying
    def copy_files(self):
        for record in self.src_records:
            student = record["username"]
            dest = Path(self._dest(student))
            trusted = self.times[record["filename"]]
            if dest.is_dir() and self.coursedir.get_existing_timestamp(str(dest)) == trusted:
                continue                       # already collected
            try:
                copy_tree_safely(Path(self.inbound_path) / record["filename"], dest, self.settings.limits(),
                                 skip=frozenset({"timestamp.txt"}))
            except UnsafeSubmission as unsafe:   # changed while it was copied
                _refuse(self.notes, student, str(unsafe), dest.is_dir())
                continue
            (dest / "timestamp.txt").write_text(_utc(trusted))
            self.notes.setdefault(student, [])


def _login(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _owner(uid: int) -> str:
    """``Unix user mallory (uid 1003)``, or ``uid 1003`` without a name."""
    login = _login(uid)
    return f"Unix user {login} (uid {uid})" if login else f"uid {uid}"


def _from_exchange(course: Course, assignment: str, exchange: Path, settings: CourseIntake) -> dict[str, list[str]]:
    """nbgrader's own ``collect`` from an exchange folder (latest trusted submission per student)."""
    from nbgrader.auth import Authenticator

    course_id = course.coursedir.course_id
    root = exchange.parent.parent if exchange.name == "inbound" else exchange
    root = root.parent if (root / "inbound").is_dir() and root.name == course_id else root
    config = copy.deepcopy(course.config)   # Config.copy() shares the sections
    config.Exchange.root = str(root)
    config.CourseDirectory.assignment_id = assignment
    collect = VettedExchangeCollect(settings, coursedir=course.coursedir,
                                    authenticator=Authenticator(config=config), config=config)
    collect.coursedir.assignment_id = assignment
    collect.update = True
    try:
        collect.start()
    except (SystemExit, ExchangeError) as stop:   # nbgrader's fail(): no course or no permission
        raise IntakeError(f"the exchange at {root} cannot be collected (see the log above)") from stop
    record_times(course.root, assignment, {
        record["username"]: {"late_marker": False, "source": "exchange"} for record in collect.src_records})
    return collect.notes


def is_exchange(source: Path) -> bool:
    return source.is_dir() and ((source / "inbound").is_dir() or any(source.glob("*/inbound")))


def intake(course: Course, assignment: str, source: Path | None) -> dict[str, list[str]]:
    """Place *source* into ``submitted/`` and tidy every folder of *assignment*.

    Returns notes per student (``"(intake)"`` for what belongs to nobody; a
    note starting with :data:`REFUSED` when a student's new submission was not
    taken). Raises :class:`IntakeError` when the whole input is refused.
    """
    settings = CourseIntake(config=course.config)
    notes: dict[str, list[str]] = {}
    if source is not None:
        source = Path(source)
        if source.is_symlink():
            raise IntakeError(f"{source} is a link: give the folder, zip or exchange itself")
        if source.is_dir() and source.resolve() == course.path("submitted").resolve():
            source = None
        elif source.is_file() and source.suffix.lower() in {".zip", ".gz", ".tgz", ".tar"}:
            notes = _from_zip(course, assignment, source)
        elif is_exchange(source):
            notes = _from_exchange(course, assignment, source, settings)
        elif source.is_dir():
            notes = _from_folder(course, assignment, source, settings)
        else:
            raise IntakeError(f"no folder, zip or exchange at {source}")
    _vet_submitted(course, assignment, notes)
    expected = course.notebooks(assignment)
    submitted = course.path("submitted")
    for folder in sorted(submitted.glob(f"*/{assignment}")) if submitted.exists() else []:
        if folder.is_dir() and not folder.is_symlink():
            student = folder.parent.name
            try:   # one student's folder fails only that student
                notes.setdefault(student, []).extend(set_aside_extras(course, assignment, student))
                notes[student].extend(tidy_submission(folder, expected))
            except (OSError, ValueError, UnicodeError) as error:
                moved = _quarantine(course, folder.parent, assignment)
                _refuse(notes, student, f"your submission could not be read ({type(error).__name__}); "
                                        "submit the notebook again", kept=False)
                notes.setdefault(INTAKE, []).append(f"submitted/{printable(student)} moved to "
                                                    f"{moved.relative_to(course.root)}: {printable(str(error))}")
    return notes
