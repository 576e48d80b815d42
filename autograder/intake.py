"""Bring a class's submissions into ``submitted/<student>/<assignment>/``.

Three kinds of input are understood:

* a folder in nbgrader's layout, ``<student>/<assignment>/*.ipynb`` (or
  ``<student>/*.ipynb``);
* an nbgrader exchange (a folder holding ``inbound/``, or ``<course_id>/inbound``),
  collected with nbgrader's own ``ExchangeCollect``;
* the zip an LMS exports (Canvas: ``login_[late_]1234_56789_signals.ipynb``;
  Moodle: ``Full Name_1234_assignsubmission_file_/signals.ipynb`` or the flat
  form), collected with nbgrader's ``zip_collect`` and the course's collector,
  :class:`LmsCollector`, whose file-name patterns live in ``nbgrader_config.py``.

Then every student's folder is tidied the same way: a renamed notebook
(``Copy of signals (1).ipynb``, ``signals-1.ipynb``) or one in a nested folder
is graded under its released name, and every other file is kept and reported.
Nothing is dropped silently: each decision becomes a note for the summary.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import List, Unicode

from autograder.course import Course

IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX", "__pycache__", ".DS_Store"}


#: Files nbgrader itself puts beside a submission (not the student's extras).
NBGRADER_FILES = {"timestamp.txt", "submission_secret.txt"}

def slug(text: str) -> str:
    """A student id from a display name: ``Jane O'Neil`` → ``jane-oneil``."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"['’]", "", text.lower())).strip("-") or "unknown"


class LmsCollector(FileNameCollectorPlugin):
    """nbgrader ``zip_collect`` collector for Canvas and Moodle exports.

    ``patterns`` are tried in order on each extracted file's path (relative to
    the extracted folder); each gives ``file_id`` and either ``student_id`` or
    ``student_name`` (made into an id with :func:`slug`). Every file of a
    matched student is collected, notebooks or not; files that match no
    pattern are listed in :attr:`unmatched` for the report.
    """

    patterns = List(Unicode(), help="Named regular expressions for LMS file names, tried in order.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.unmatched: list[str] = []
        self.root: Path | None = None

    def collect(self, submitted_file: str):
        path = Path(submitted_file)
        relative = path.relative_to(self.root).as_posix() if self.root else path.name
        if any(part in IGNORED_PARTS for part in Path(relative).parts):
            return None
        for pattern in self.patterns or [self.named_regexp]:
            match = re.fullmatch(pattern, relative) if pattern else None
            if match:
                info = {k: v for k, v in match.groupdict().items() if v is not None}
                if "student_id" not in info and "student_name" in info:
                    info["student_id"] = slug(info.pop("student_name"))
                info["student_id"] = info["student_id"].lower()
                return info
        self.unmatched.append(relative)
        return None


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

    *expected* are notebook names without ``.ipynb``.
    """
    notes: list[str] = []
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()
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
        chosen = max(candidates, key=lambda p: (p.stat().st_mtime, p.name))
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
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return notes


def _copy_folder(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*IGNORED_PARTS))


def _from_folder(course: Course, assignment: str, source: Path) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for student_dir in sorted(p for p in source.iterdir() if p.is_dir() and p.name not in IGNORED_PARTS):
        inner = student_dir / assignment
        target = course.path("submitted", student_dir.name, assignment)
        if inner.is_dir():
            if inner.resolve() != target.resolve():
                _copy_folder(inner, target)
            notes[student_dir.name] = []
        else:
            others = [p.name for p in student_dir.iterdir() if p.is_dir()]
            _copy_folder(student_dir, target)
            notes[student_dir.name] = [f"no {assignment}/ folder: took the student's folder as it is"] + (
                [f"other folders: {', '.join(others)}"] if others else [])
    for stray in sorted(p.name for p in source.iterdir() if p.is_file()):
        notes.setdefault("(intake)", []).append(f"file outside any student folder not graded: {stray}")
    return notes


def _from_zip(course: Course, assignment: str, archive: Path) -> dict[str, list[str]]:
    """nbgrader's ``zip_collect`` with the course's collector (see nbgrader_config.py)."""
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
        app = ZipCollectApp(config=config)
        app.coursedir = CourseDirectory(config=config)
        app.coursedir.assignment_id = assignment
        app.downloaded_directory = downloaded.name
        app.force = True
        app.init_plugins()
        collector = app.collector_plugin_inst
        collector.root = downloaded / assignment / app.extracted_directory
        try:
            app.extract_archive_files()
            before = {p.name for p in course.path("submitted").glob("*")} if course.path("submitted").exists() else set()
            app.process_extracted_files()
        except SystemExit as stop:  # ZipCollectApp.fail() exits; keep the run going
            raise RuntimeError(f"zip_collect could not collect {archive.name} (see the log above)") from stop
        notes: dict[str, list[str]] = {}
        for folder in course.path("submitted").glob(f"*/{assignment}"):
            if folder.parent.name not in before or folder.stat().st_mtime >= archive.stat().st_mtime:
                notes.setdefault(folder.parent.name, [])
        if getattr(collector, "unmatched", None):
            notes["(intake)"] = [f"file name not recognised, not graded: {name}" for name in collector.unmatched]
        return notes
    finally:
        shutil.rmtree(downloaded, ignore_errors=True)


def _from_exchange(course: Course, assignment: str, exchange: Path) -> dict[str, list[str]]:
    """nbgrader's own ``collect`` from an exchange folder (latest submission per student)."""
    from nbgrader.auth import Authenticator
    from nbgrader.exchange.default.collect import ExchangeCollect

    course_id = course.coursedir.course_id
    root = exchange.parent.parent if exchange.name == "inbound" else exchange
    root = root.parent if (root / "inbound").is_dir() and root.name == course_id else root
    config = copy.deepcopy(course.config)   # Config.copy() shares the sections
    config.Exchange.root = str(root)
    config.CourseDirectory.assignment_id = assignment
    collect = ExchangeCollect(coursedir=course.coursedir, authenticator=Authenticator(config=config), config=config)
    collect.coursedir.assignment_id = assignment
    collect.update = True
    collect.start()
    inbound = root / course_id / "inbound"
    students = {p.name.split("+")[0] for p in inbound.iterdir() if f"+{assignment}+" in p.name}
    return {student: [] for student in sorted(students)}


def is_exchange(source: Path) -> bool:
    return source.is_dir() and ((source / "inbound").is_dir() or any(source.glob("*/inbound")))


def intake(course: Course, assignment: str, source: Path | None) -> dict[str, list[str]]:
    """Place *source* into ``submitted/`` and tidy every folder of *assignment*.

    Returns notes per student ("(intake)" for files that belong to nobody).
    """
    notes: dict[str, list[str]] = {}
    if source is not None:
        source = Path(source)
        if source.is_file() and source.suffix.lower() in {".zip", ".gz"}:
            notes = _from_zip(course, assignment, source)
        elif is_exchange(source):
            notes = _from_exchange(course, assignment, source)
        elif source.is_dir():
            notes = _from_folder(course, assignment, source)
        else:
            raise FileNotFoundError(f"no folder, zip or exchange at {source}")
    expected = course.notebooks(assignment)
    submitted = course.path("submitted")
    for folder in sorted(submitted.glob(f"*/{assignment}")) if submitted.exists() else []:
        if folder.is_dir():
            notes.setdefault(folder.parent.name, []).extend(tidy_submission(folder, expected))
    return notes
