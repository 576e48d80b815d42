"""Notice when an assignment changed after a class was graded, and say so.

The gradebook remembers the cells of the release a class was graded with.
When ``source/<assignment>`` gains or loses cells after that, nbgrader
refuses to regenerate the assignment while submissions exist ("Cannot add or
remove cells …"). :func:`compare` finds that out before anything runs, so the
TA gets one line and a way forward (:class:`autograder.course.CellsChangedError`);
:func:`refresh_release` regenerates the release when the source moved on, and
:func:`explain_notes` tells the TA which students submitted the earlier
release, instead of saying they deleted a graded cell.

``.grading/<assignment>.release.json`` in the course root keeps the source's
fingerprint and the cells added by the last change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.api import MissingEntry

from autograder.course import CellsChangedError, Course


@dataclass
class Change:
    """How ``source/`` differs from what the gradebook knows of an assignment."""

    assignment: str
    added: list[str] = field(default_factory=list)      # cell ids (graded or locked)
    removed: list[str] = field(default_factory=list)
    submissions: int = 0

    @property
    def cells_changed(self) -> bool:
        return bool(self.added or self.removed)

    def describe(self) -> str:
        parts = [f"added {', '.join(self.added)}" if self.added else "",
                 f"removed {', '.join(self.removed)}" if self.removed else ""]
        return "; ".join(p for p in parts if p)


def source_cells(course: Course, assignment: str) -> dict[str, set[str]]:
    """notebook → ids of the cells nbgrader tracks (graded, solution, task, locked)."""
    cells: dict[str, set[str]] = {}
    for name in course.notebooks(assignment):
        notebook = nbformat.read(str(course.path("source", assignment, f"{name}.ipynb")), as_version=4)
        cells[name] = {cell.metadata.nbgrader.grade_id for cell in notebook.cells
                       if "nbgrader" in cell.metadata and cell.metadata.nbgrader.get("grade_id")
                       and (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)
                            or utils.is_task(cell))}
    return cells


def gradebook_cells(course: Course, assignment: str) -> tuple[dict[str, set[str]], int]:
    """notebook → the cell ids the gradebook knows, and the number of submissions."""
    with course.gradebook() as gradebook:
        try:
            known = gradebook.find_assignment(assignment)
        except MissingEntry:
            return {}, 0
        cells = {nb.name: {c.name for kind in (nb.grade_cells, nb.solution_cells, nb.task_cells, nb.source_cells)
                           for c in kind} for nb in known.notebooks}
        return cells, len(known.submissions)


def compare(course: Course, assignment: str) -> Change:
    """What changed in ``source/`` since the gradebook's release of *assignment*."""
    old, submissions = gradebook_cells(course, assignment)
    change = Change(assignment, submissions=submissions)
    if not old:
        return change
    new = source_cells(course, assignment)
    for name in sorted(set(old) | set(new)):
        change.added += sorted(new.get(name, set()) - old.get(name, set()))
        change.removed += sorted(old.get(name, set()) - new.get(name, set()))
    return change


def check_can_grade(course: Course, assignment: str, update: bool) -> Change:
    """Raise :class:`CellsChangedError` when nbgrader would refuse the changed source."""
    change = compare(course, assignment)
    if change.cells_changed and change.submissions and not update:
        raise CellsChangedError(assignment, course.root)
    return change


def _source_fingerprint(course: Course, assignment: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(course.path("source", assignment).glob("*.ipynb")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _record_path(course: Course, assignment: str) -> Path:
    return course.root / ".grading" / f"{assignment}.release.json"


def refresh_release(course: Course, assignment: str, update: bool = False) -> tuple[list[str], bool]:
    """Regenerate the release when ``source/`` changed since the class's release.

    Returns (warnings for the TA, whether every submission must be graded again).
    With *update*, an assignment whose cells changed is forgotten by the
    gradebook (its submissions stay in ``submitted/``) and generated anew.
    """
    record_path = _record_path(course, assignment)
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    fingerprint = _source_fingerprint(course, assignment)
    change = check_can_grade(course, assignment, update)
    known = bool(gradebook_cells(course, assignment)[0])
    warnings: list[str] = []
    regrade = False
    if known and (change.cells_changed or record.get("source") not in (None, fingerprint)):
        if change.cells_changed and change.submissions:
            forgotten = course.forget_assignment(assignment)
            warnings.append(f"source/{assignment} changed since this class was graded ({change.describe()}): "
                            f"the gradebook forgot the earlier version ({forgotten} submission(s), manual grades "
                            "included) and every submission was graded again with the new release")
        else:
            warnings.append(f"source/{assignment} changed since the release this class was graded with"
                            + (f" ({change.describe()})" if change.cells_changed else "")
                            + ": the release was regenerated and every submission graded again")
        course.generate_release(assignment)
        record["added"] = change.added
        regrade = True
    elif not known or not course.path("release", assignment).exists():
        course.generate_release(assignment)
    record["source"] = fingerprint
    record_path.parent.mkdir(exist_ok=True)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return warnings, regrade


_DELETED = re.compile(r"^(?P<notebook>[^:]+): graded cell\(s\) deleted: (?P<cells>[^(]+?) \(")


def explain_notes(course: Course, assignment: str, notes: list[str]) -> list[str]:
    """Say "submitted the earlier release" where a missing cell is one added later."""
    record_path = _record_path(course, assignment)
    added = set(json.loads(record_path.read_text()).get("added", [])) if record_path.exists() else set()
    if not added:
        return notes
    explained = []
    for note in notes:
        match = _DELETED.match(note)
        cells = {c.strip() for c in match["cells"].split(",")} if match else set()
        if cells and cells <= added:
            note = (f"{match['notebook']}: submitted the earlier release, without {', '.join(sorted(cells))} "
                    f"(added to {assignment} later): those cells score 0 unless the student submits the new release")
        explained.append(note)
    return explained


def _cell_key(cell, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1}"


def stale_cells(committed: Path, fresh: Path) -> list[str]:
    """How the committed release folder differs from a freshly generated one, cell by cell."""
    problems: list[str] = []
    committed_names = {p.name for p in committed.glob("*.ipynb")} if committed.is_dir() else set()
    fresh_names = {p.name for p in fresh.glob("*.ipynb")}
    for name in sorted(fresh_names - committed_names):
        problems.append(f"{name} is missing from the release")
    for name in sorted(committed_names - fresh_names):
        problems.append(f"{name} is in the release but not in source/")
    for name in sorted(committed_names & fresh_names):
        old = nbformat.read(str(committed / name), as_version=4).cells
        new = nbformat.read(str(fresh / name), as_version=4).cells
        old_keys = [_cell_key(c, i) for i, c in enumerate(old)]
        new_keys = [_cell_key(c, i) for i, c in enumerate(new)]
        added = [k for k in new_keys if k not in old_keys and not k.startswith("cell ")]
        removed = [k for k in old_keys if k not in new_keys and not k.startswith("cell ")]
        if added:
            problems.append(f"{name}: cells in source/ but not in the release: {', '.join(added)}")
        if removed:
            problems.append(f"{name}: cells in the release but no longer in source/: {', '.join(removed)}")
        if added or removed or len(old) != len(new):
            if not (added or removed):
                problems.append(f"{name}: the release has {len(old)} cells, source/ makes {len(new)}")
            continue
        differ = [new_keys[i] for i, (a, b) in enumerate(zip(old, new))
                  if (a.cell_type, a.source, a.metadata.get("nbgrader")) != (b.cell_type, b.source, b.metadata.get("nbgrader"))]
        if differ:
            problems.append(f"{name}: cells that differ from what source/ makes: {', '.join(differ[:10])}"
                            + (" …" if len(differ) > 10 else ""))
    return problems
