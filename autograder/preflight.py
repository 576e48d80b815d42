"""Look at a submission before grading it, and say clearly what is wrong.

nbgrader reports a broken notebook with a long traceback in its log. A TA
needs one line per student: what is wrong and what the student should do.
:func:`inspect_submission` returns those lines; a *fatal* finding means the
submission cannot be graded (it scores 0), a *note* means it is graded but
something is off (such as graded cells deleted, which score 0).

Before anything parses a notebook, its size and shape are bounded
(:class:`Preflight`, set in ``nbgrader_config.py``), so a pathological file
costs only its own student, refused in milliseconds:

1. the submission folder's files, counted and sized from ``lstat`` alone;
2. the notebook's size, from ``lstat`` (a link or a device is refused unread);
3. how deeply its JSON nests, by a scan of the bytes that counts brackets
   outside strings — no recursion, so 100 000 levels are no harder than 10;
4. only then ``json.loads`` (bounded in size and depth): the number of cells
   and the size of each output, then the type of every field nbformat and
   nbgrader read (:func:`type_problem`), before ``nbformat`` parses anything;
5. a cell the student wrote that holds nbgrader's hidden-test markers gets its
   own line (:func:`marker_problem`) instead of an error deep in nbgrader.

The defaults are the largest legitimate notebook of the course times a
generous factor: the executed solutions are at most 0.6 MB, 37 cells, 7 levels
deep, with no output over 0.26 MB.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from traitlets import Float, Integer
from traitlets.config import Configurable

from autograder.preprocessors.judge import graded_ids
from autograder.safefiles import UnsafeSubmission, read_student_file

_MB = 2**20
#: A JSON string: quote, then anything but a quote or backslash, or an escaped character.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class Preflight(Configurable):
    """Bounds on a submission, checked before it is parsed (``c.Preflight.*``)."""

    max_notebook_mb = Float(20.0, help=(
        "Largest notebook file (MB). The course's executed solutions are at most 0.6 MB; "
        "20 MB leaves room for many plots.")).tag(config=True)
    max_cells = Integer(1000, help="Most cells in one notebook (the course's have at most 37).").tag(config=True)
    max_json_depth = Integer(64, help=(
        "Deepest nesting of the notebook's JSON (a notebook is 7 levels deep; Python's parsers "
        "recurse once per level).")).tag(config=True)
    max_output_mb = Float(5.0, help=(
        "Largest single output in a submitted notebook (MB); the course's largest is 0.26 MB.")).tag(config=True)
    max_submission_mb = Float(100.0, help="All files of one submission together (MB).").tag(config=True)
    max_submission_files = Integer(100, help="Files and folders in one submission.").tag(config=True)


def json_depth(raw: bytes) -> int:
    """How deeply the JSON in *raw* nests (``{"a": [1]}`` is 2), without parsing it.

    Strings are blanked out first (brackets in them do not count), then the
    remaining brackets are counted: +1 per opening, -1 per closing.
    """
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def _mb(size: float) -> str:
    return f"{size / _MB:.1f} MB" if size >= _MB / 10 else f"{size / 1024:.0f} kB"


@dataclass
class Findings:
    fatal: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str | None:
        return "; ".join(self.fatal + self.notes) or None


RESUBMIT = ("ask the student to clear its outputs in JupyterLab (Kernel → Restart Kernel and Clear Outputs "
            "of All Cells), save and submit again")


def _unreadable(path: Path, limits: Preflight) -> str | None:
    """Why a notebook is refused unread (not a plain file, too large), from ``lstat`` alone."""
    name = path.name
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"{name} cannot be read ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{name} is not a plain file (a link, folder or device); ask the student to submit the notebook itself"
    if info.st_size > limits.max_notebook_mb * _MB:
        return (f"{name} is {_mb(info.st_size)}, over the limit of {limits.max_notebook_mb:g} MB for a notebook "
                f"(not graded); {RESUBMIT}")
    return None


def _read_bounded(path: Path, limits: Preflight) -> tuple[bytes | None, str | None]:
    """The notebook's bytes (read through :mod:`autograder.safefiles`), or why it is refused unread."""
    refused = _unreadable(path, limits)
    if refused:
        return None, refused
    name = path.name
    try:
        return read_student_file(path.parent, name, max_bytes=int(limits.max_notebook_mb * _MB)), None
    except UnsafeSubmission as unsafe:
        return None, f"{name} is {unsafe.what}, not a notebook file; ask the student to submit the notebook itself"
    except OSError as error:
        return None, f"{name} cannot be read ({error.strerror})"


def _shape_problem(name: str, data: object, limits: Preflight) -> str | None:
    """Why a parsed notebook is too big to hand to nbformat (too many cells, a huge output)."""
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return None  # nbformat says what is wrong
    if len(cells) > limits.max_cells:
        return (f"{name} has {len(cells):,} cells, over the limit of {limits.max_cells:,} (not graded); ask the "
                "student to remove the cells they added and submit again")
    for number, cell in enumerate(cells, 1):
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for output in outputs if isinstance(outputs, list) else []:
            size = len(json.dumps(output))
            if size > limits.max_output_mb * _MB:
                return (f"{name}: cell {number} has an output of {_mb(size)}, over the limit of "
                        f"{limits.max_output_mb:g} MB for one output (not graded); {RESUBMIT}")
    return None


_CELL_TYPES = ("code", "markdown", "raw")
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
#: nbgrader's hidden-test delimiters: in a cell the student wrote they would hide or break the grading.
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _text_field(value: object) -> bool:
    """A multiline string as nbformat writes it: a string or a list of strings."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell_type_problem(cell: object) -> str | None:
    if not isinstance(cell, dict):
        return "is not an object"
    if cell.get("cell_type") not in _CELL_TYPES:
        return f"has cell_type {str(cell.get('cell_type'))[:30]!r}"
    if not _text_field(cell.get("source", "")):
        return "has a source that is not text"
    if not isinstance(cell.get("metadata", {}), dict):
        return "has metadata that is not an object"
    if "id" in cell and not isinstance(cell["id"], str):
        return "has an id that is not a string"
    if "attachments" in cell and not isinstance(cell["attachments"], dict):
        return "has attachments that are not an object"
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    if not isinstance(nbgrader, dict) or not isinstance(nbgrader.get("grade_id", ""), str):
        return "has nbgrader metadata of the wrong types"
    if cell["cell_type"] != "code":
        return None
    if cell.get("execution_count") is not None and not _is_int(cell.get("execution_count")):
        return "has an execution_count that is not a number"
    outputs = cell.get("outputs", [])
    if not isinstance(outputs, list):
        return "has outputs that are not a list"
    for output in outputs:
        if not isinstance(output, dict) or output.get("output_type") not in _OUTPUT_TYPES:
            return "has an output of an unknown type"
        kind = output["output_type"]
        if kind == "stream" and not (isinstance(output.get("name", ""), str) and _text_field(output.get("text", ""))):
            return "has a stream output that is not text"
        if kind == "error" and not (isinstance(output.get("ename", ""), str) and isinstance(output.get("evalue", ""), str)
                                    and isinstance(output.get("traceback", []), list)
                                    and all(isinstance(line, str) for line in output.get("traceback", []))):
            return "has an error output of the wrong types"
        if kind in ("display_data", "execute_result") and not (
                isinstance(output.get("data", {}), dict) and isinstance(output.get("metadata", {}), dict)):
            return "has a display output of the wrong types"
        if kind == "execute_result" and output.get("execution_count") is not None \
                and not _is_int(output.get("execution_count")):
            return "has an execution_count that is not a number"
    return None


def type_problem(name: str, data: object) -> str | None:
    """Why a parsed notebook's fields have types nbformat does not write (each checked before anything
    reads it: ``nbformat_minor: "5"`` would stop nbformat itself with an internal error), or None."""
    if not isinstance(data, dict):
        return f"{name} is JSON but not a notebook (not an object at the top)"
    if data.get("nbformat") != 4 or not _is_int(data.get("nbformat")) or not _is_int(data.get("nbformat_minor")):
        return (f"{name}: its version fields (nbformat {repr(data.get('nbformat'))[:20]}, nbformat_minor "
                f"{repr(data.get('nbformat_minor'))[:20]}) are not the numbers of a version-4 notebook (not graded); "
                "ask the student to download it again from JupyterLab (File → Download) and resubmit")
    if not isinstance(data.get("metadata", {}), dict) or not isinstance(data.get("cells"), list):
        return f"{name} is JSON but not a notebook (its metadata or cells have the wrong type)"
    for number, cell in enumerate(data["cells"], 1):
        problem = _cell_type_problem(cell)
        if problem:
            return (f"{name}: cell {number} {problem}, which Jupyter never writes (not graded); ask the student to "
                    "download the notebook again from JupyterLab (File → Download) and resubmit")
    return None


def marker_problem(name: str, notebook: nbformat.NotebookNode, source: nbformat.NotebookNode) -> str | None:
    """Why a cell the student wrote cannot be graded because it holds nbgrader's hidden-test markers, or None.

    The test cells are put back from the source when grading; any other cell is the student's."""
    tests = {cell.metadata["nbgrader"]["grade_id"] for cell in source.cells
             if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
             and not cell.metadata["nbgrader"].get("solution")}
    for number, cell in enumerate(notebook.cells, 1):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in tests:
            continue
        text = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
        marker = next((m for m in HIDDEN_MARKERS if m in text), None)
        if marker:
            return (f"{name}: cell {number} holds nbgrader's marker {marker!r}, which only the course's test cells "
                    "may hold (not graded); remove that line and submit again")
    return None


def inspect_notebook(path: Path, source: nbformat.NotebookNode, limits: Preflight | None = None) -> Findings:
    """Findings for one submitted notebook compared with its source."""
    findings = Findings()
    name = path.name
    limits = limits or Preflight()
    raw, refused = _read_bounded(path, limits)
    if refused:
        findings.fatal.append(refused)
        return findings
    if not raw.strip():
        findings.fatal.append(f"{name} is empty (0 bytes): the upload failed; ask the student to submit again")
        return findings
    depth = json_depth(raw)
    if depth > limits.max_json_depth:
        findings.fatal.append(
            f"{name} nests {depth:,} levels deep, over the limit of {limits.max_json_depth} (a notebook from "
            "JupyterLab has about 7; not graded): it was not written by Jupyter. Ask the student to download "
            "the notebook again from JupyterLab (File → Download) and resubmit")
        return findings
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        findings.fatal.append(
            f"{name} is not JSON, so not a notebook ({error.__class__.__name__} at byte "
            f"{getattr(error, 'pos', '?')} of {len(raw)}); it looks truncated or corrupted. Ask the student to "
            "download it again from JupyterLab (File → Download) and resubmit")
        return findings
    shape = _shape_problem(name, data, limits) or type_problem(name, data)
    if shape:
        findings.fatal.append(shape)
        return findings
    try:  # read as nbgrader will: missing or duplicated cell ids are repaired later
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as error:  # nbformat raises several kinds of validation errors
        findings.fatal.append(f"{name} is JSON but not a valid notebook ({str(error).splitlines()[0][:120]})")
        return findings
    marker = marker_problem(name, notebook, source)
    if marker:
        findings.fatal.append(marker)
        return findings
    unknown, repeated = nbgrader_id_problems(notebook, source)
    if unknown or repeated:   # nbgrader would stop on them with a traceback: say what it means
        what = []
        if unknown:
            what.append(f"cells this assignment does not have ({', '.join(unknown[:5])}"
                        f"{', …' if len(unknown) > 5 else ''})")
        if repeated:
            what.append(f"the same cell more than once ({', '.join(repeated[:5])})")
        findings.fatal.append(
            f"{name} has {' and '.join(what)}: it comes from an older or newer release, or cells were pasted "
            "or copied in. Ask the student to fetch the current release, copy their answers into it, and resubmit")
        return findings
    missing = sorted(graded_ids(source) - graded_ids(notebook))
    if missing:
        findings.notes.append(
            f"{name}: graded cell(s) deleted: {', '.join(missing)} (they score 0; the student should keep "
            "every cell of the release and only fill in the answers)")
    return findings


def nbgrader_id_problems(notebook: nbformat.NotebookNode, source: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """(nbgrader cell ids the source does not have, ids that appear more than once) of *notebook*."""
    def ids(nb) -> list[str]:
        found = []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str) and (
                    meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")):
                found.append(meta["grade_id"])
        return found

    submitted, known = ids(notebook), set(ids(source))
    unknown = sorted(set(submitted) - known)
    repeated = sorted({grade_id for grade_id in submitted if submitted.count(grade_id) > 1})
    return unknown, repeated


def folder_problem(folder: Path, limits: Preflight) -> str | None:
    """Why a submission folder is too big to grade (too many files, too many bytes), from ``lstat`` only."""
    count, total, pending = 0, 0, [folder]
    while pending:  # iterative: a deep tree of folders costs no recursion
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            count += 1
            if count > limits.max_submission_files:
                return (f"the submission holds more than {limits.max_submission_files} files and folders "
                        "(not graded); ask the student to submit only the assignment's notebooks")
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            else:
                total += entry.stat(follow_symlinks=False).st_size
                if total > limits.max_submission_mb * _MB:
                    return (f"the submission's files add up to more than {limits.max_submission_mb:g} MB (not graded); "
                            "ask the student to submit only the assignment's notebooks, with outputs cleared")
    return None


def inspect_submission(folder: Path, sources: dict[str, nbformat.NotebookNode],
                       limits: Preflight | None = None) -> Findings:
    """Findings for ``submitted/<student>/<assignment>/`` given name → source notebook.

    *limits*: :class:`Preflight` (pass ``Preflight(config=course.config)``
    for the course's settings; the defaults otherwise).
    """
    findings = Findings()
    limits = limits or Preflight()
    expected = [folder / f"{name}.ipynb" for name in sources]
    refused = [problem for path in expected if os.path.lexists(path) and (problem := _unreadable(path, limits))]
    if not refused and folder.is_dir() and (problem := folder_problem(folder, limits)):
        refused = [problem]
    if refused:  # nothing is read: the notebooks are too big, not plain files, or too many
        findings.fatal += refused
        return findings
    present = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if not present:
        findings.fatal.append(f"empty submission: no notebook found (expected {', '.join(n + '.ipynb' for n in sources)})")
        return findings
    for name, source in sources.items():
        path = folder / f"{name}.ipynb"
        if not path.exists():
            findings.fatal.append(f"{name}.ipynb is missing (found: {', '.join(present)})")
            continue
        found = inspect_notebook(path, source, limits)
        findings.fatal += found.fatal
        findings.notes += found.notes
    return findings
