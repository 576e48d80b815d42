"""The class list from the LMS: who is enrolled, and under which id the course knows them.

:func:`read_lms_roster` reads the CSV an LMS exports and says which columns
it read:

- **Canvas**: the gradebook export (Grades → Export), whose first columns are
  ``Student`` (``Last, First``; or ``LastName`` and ``FirstName``), ``ID``
  (Canvas's user id), ``SIS User ID`` (when the export includes it),
  ``SIS Login ID`` and ``Section``. The ``Points Possible`` row and Canvas's
  test student (``Student, Test``) are skipped; assignment columns are ignored.
- **Moodle**: the grade export as a plain text file (Grades → Export), or the
  participants table downloaded as CSV: ``First name``, ``Last name`` (or
  ``Surname``), ``Email address``, and ``ID number``, ``Username`` and
  ``Groups`` when present.

A student's id in the course is what intake calls them, so that a roster and
a class's submissions meet: by default the Canvas login (``SIS Login ID``)
when every row has one, else the name Canvas puts in its submission zips
(``Doe, Jane`` → ``doejane``); for Moodle the name Moodle puts in its zips
(``Jane Doe`` → ``jane-doe``, as :class:`autograder.plugins.lms.LmsCollector`
reads it). ``id_column`` picks any other column (``SIS User ID``, ``Email
address``…). Every id passes :func:`autograder.safefiles.student_id_problem`.

:func:`import_roster` writes the students into nbgrader's gradebook (id, first
and last name, email, the LMS's user id as ``lms_user_id``) and keeps the
roster in ``.grading/roster.json`` (the section, the SIS ids, and which
students are on it: grading also adds students to the gradebook, so being in
it does not mean being enrolled).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.plugins.lms import slug
from autograder.safefiles import student_id_problem

RECORD = Path(".grading") / "roster.json"
#: A class list is a small file: anything larger is not one.
MAX_BYTES = 20 * 2**20

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address", "Username", "Groups"]


class RosterError(ValueError):
    """The file is not a class list this course reads (one line that says what to do)."""


@dataclass(frozen=True)
class Enrolled:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    section: str = ""
    lms_user_id: str = ""     # Canvas's ID, Moodle's ID number
    sis_user_id: str = ""
    login: str = ""           # Canvas's SIS Login ID, Moodle's username

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class RosterFile:
    lms: str                         # "canvas" | "moodle"
    columns_read: list[str]
    id_column: str
    students: list[Enrolled]
    skipped: list[str]               # one line per row that was not taken, saying why
    #: Canvas's assignment columns, title → Canvas's assignment id (``02-signals (4711)``), so the
    #: grades go back into the same columns
    lms_assignments: dict[str, str] = field(default_factory=dict)


def canvas_zip_id(sortable_name: str) -> str:
    """The student part of a Canvas submission zip's file names: ``Doe, Jane`` → ``doejane``."""
    return re.sub(r"[^a-z0-9]", "", sortable_name.lower())


def _clean(value) -> str:
    """A cell as text, without control characters (a name is printed on a TA's terminal)."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "", value).strip() if isinstance(value, str) else ""


def _rows(path: Path) -> tuple[set[str], list[dict[str, str]]]:
    try:
        size = path.stat().st_size
    except OSError:
        raise RosterError(f"no file {path}; give the class list the LMS exported (a .csv file)") from None
    if size > MAX_BYTES:
        raise RosterError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB; give the class list the LMS "
                          "exported (a .csv file)")
    raw = path.read_bytes()
    text = raw.decode("latin-1")   # any bytes decode: the last resort
    for encoding in ("utf-8-sig", "cp1252"):   # Canvas writes a BOM; a spreadsheet may save Windows-1252
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        pass
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        rows = [{(k or "").strip(): _clean(v) for k, v in row.items()} for row in reader]
    except csv.Error as error:
        raise RosterError(f"{path.name} is not a readable CSV file ({error}); export the class list again") from None
    if not reader.fieldnames:
        raise RosterError(f"{path.name} is empty; export the class list from the LMS again")
    return {(name or "").strip() for name in reader.fieldnames}, rows


def detect(header: set[str]) -> str | None:
    if "SIS Login ID" in header or {"Student", "ID", "Section"} <= header or {"LastName", "FirstName", "ID"} <= header:
        return "canvas"
    if "First name" in header and ({"Last name", "Surname"} & header):
        return "moodle"
    return None


def _canvas(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], Enrolled]]:
    found = []
    for row in rows:
        if "Student" in row:
            sortable = row["Student"]
            last, _, first = sortable.partition(",")
        else:
            last, first = row.get("LastName", ""), row.get("FirstName", "")
            sortable = f"{last}, {first}"
        if sortable.strip().startswith("Points Possible") or not row.get("ID", "").strip():
            continue   # Canvas's second row, a muted-assignments row, or a blank line
        if sortable.strip() == "Student, Test":
            continue   # the test student of Canvas's "student view"
        found.append((row, Enrolled(id="", first_name=first.strip(), last_name=last.strip(),
                                    section=row.get("Section", ""), lms_user_id=row.get("ID", ""),
                                    sis_user_id=row.get("SIS User ID", ""), login=row.get("SIS Login ID", ""))))
    return found


def _moodle(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], Enrolled]]:
    found = []
    for row in rows:
        first, last = row.get("First name", ""), row.get("Last name", row.get("Surname", ""))
        if not (first or last):
            continue
        found.append((row, Enrolled(id="", first_name=first, last_name=last, email=row.get("Email address", ""),
                                    section=row.get("Groups", ""), lms_user_id=row.get("ID number", ""),
                                    login=row.get("Username", ""))))
    return found


def read_lms_roster(path: Path | str, id_column: str | None = None) -> RosterFile:
    """The students in a Canvas or Moodle class list (see the module's docstring)."""
    path = Path(path)
    header, rows = _rows(path)
    lms = detect(header)
    if lms is None:
        raise RosterError(f"{path.name} is neither a Canvas gradebook export (Student, ID, SIS Login ID, Section …) "
                          f"nor a Moodle grade or participants export (First name, Last name, Email address …); "
                          f"its columns are: {', '.join(sorted(header)) or 'none'}")
    if id_column and id_column not in header:
        raise RosterError(f"{path.name} has no column {id_column!r}; its columns are: {', '.join(sorted(header))}")
    people = _canvas(rows) if lms == "canvas" else _moodle(rows)
    known = CANVAS_COLUMNS + ["LastName", "FirstName"] if lms == "canvas" else MOODLE_COLUMNS + ["Surname"]
    columns_read = [c for c in known if c in header]
    if id_column:
        how, chosen = id_column, (lambda row, person: row.get(id_column, ""))
    elif lms == "canvas" and people and all(row.get("SIS Login ID") for row, _ in people):
        how, chosen = "SIS Login ID", (lambda row, person: row["SIS Login ID"])
    elif lms == "canvas":
        how, chosen = "Student, as Canvas names submission files (Doe, Jane → doejane)", (
            lambda row, person: canvas_zip_id(f"{person.last_name}, {person.first_name}"))
    else:
        how, chosen = "First name and Last name, as Moodle names submission files (Jane Doe → jane-doe)", (
            lambda row, person: slug(person.name))
    students, skipped, seen = [], [], set()
    for number, (row, person) in enumerate(people, start=2):
        student = chosen(row, person).strip().lower()
        problem = student_id_problem(student)
        if problem:
            skipped.append(f"row {number} ({person.name or 'no name'}): {problem}")
            continue
        if student in seen:
            skipped.append(f"row {number} ({person.name}): the id {student} is already taken by an earlier row")
            continue
        seen.add(student)
        students.append(Enrolled(**{**asdict(person), "id": student}))
    if not students:
        raise RosterError(f"{path.name} lists no student the course can take"
                          + (f" ({skipped[0]})" if skipped else "; export the class list with its students"))
    columns = {}
    for name in header if lms == "canvas" else ():
        titled = re.fullmatch(r"(.+) \((\d+)\)", name)
        if titled:
            columns[titled.group(1)] = titled.group(2)
    return RosterFile(lms, columns_read, how, students, skipped, columns)


# -- the course's roster --------------------------------------------------------

def record_path(root: Path | str) -> Path:
    return Path(root) / RECORD


def load_roster(root: Path | str) -> dict[str, Enrolled]:
    """Student id → their entry; empty when no roster was imported."""
    try:
        data = json.loads(record_path(root).read_text())
        return {student: Enrolled(**{**entry, "id": student}) for student, entry in data["students"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def roster_source(root: Path | str) -> dict:
    """Which file the roster came from, from which LMS, when (empty when none)."""
    try:
        data = json.loads(record_path(root).read_text())
        return {k: v for k, v in data.items() if k != "students"}
    except (OSError, ValueError, AttributeError):
        return {}


def import_roster(course, roster: RosterFile, file_name: str) -> list[str]:
    """Write *roster* into the gradebook and the course's record; the ids no longer on it."""
    before = set(load_roster(course.root))
    with course.gradebook() as gradebook:
        for person in roster.students:
            gradebook.update_or_create_student(person.id, first_name=person.first_name or None,
                                               last_name=person.last_name or None, email=person.email or None,
                                               lms_user_id=person.lms_user_id or None)
    data = {"lms": roster.lms, "file": file_name, "id_column": roster.id_column,
            "lms_assignments": roster.lms_assignments,
            "imported": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "students": {p.id: {k: v for k, v in asdict(p).items() if k != "id"} for p in roster.students}}
    path = record_path(course.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(partial, path)
    return sorted(before - {p.id for p in roster.students})


def unrostered(root: Path | str, students: list[str]) -> list[str]:
    """The students among *students* who are not on the roster (none when no roster was imported)."""
    roster = load_roster(root)
    return sorted(s for s in set(students) if roster and s not in roster)


def unrostered_warning(root: Path | str, students: list[str]) -> str | None:
    """One line for the TA about submissions from students not on the roster (None when there are none)."""
    outside = unrostered(root, students)
    if not outside:
        return None
    return (f"not on the roster ({len(outside)}): {', '.join(outside)}; graded and kept. Check the id "
            "(course roster lists the class) or import the class list again (course roster import FILE)")


def missing_submissions(course, assignments: list[str]) -> dict[str, list[str]]:
    """assignment → the rostered students with no submission of it in the gradebook (empty without a roster)."""
    roster = load_roster(course.root)
    if not roster:
        return {}
    from nbgrader.api import MissingEntry

    missing = {}
    with course.gradebook() as gradebook:
        for assignment in assignments:
            try:
                handed_in = {s.student.id for s in gradebook.find_assignment(assignment).submissions}
            except MissingEntry:
                handed_in = set()
            missing[assignment] = sorted(set(roster) - handed_in)
    return {a: students for a, students in missing.items() if students}
