"""Look at a submission before grading it, and say clearly what is wrong.

nbgrader reports a broken notebook with a long traceback in its log. A TA
needs one line per student: what is wrong and what the student should do.
:func:`inspect_submission` returns those lines; a *fatal* finding means the
submission cannot be graded (it scores 0), a *note* means it is graded but
something is off (such as graded cells deleted, which score 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.judge import graded_ids


@dataclass
class Findings:
    fatal: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str | None:
        return "; ".join(self.fatal + self.notes) or None


def inspect_notebook(path: Path, source: nbformat.NotebookNode) -> Findings:
    """Findings for one submitted notebook compared with its source."""
    findings = Findings()
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as error:
        findings.fatal.append(f"{name} cannot be read ({error.strerror})")
        return findings
    if not raw.strip():
        findings.fatal.append(f"{name} is empty (0 bytes): the upload failed; ask the student to submit again")
        return findings
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        findings.fatal.append(
            f"{name} is not JSON, so not a notebook ({error.__class__.__name__} at byte "
            f"{getattr(error, 'pos', '?')} of {len(raw)}); it looks truncated or corrupted. Ask the student to "
            "download it again from JupyterLab (File → Download) and resubmit")
        return findings
    try:  # read as nbgrader will: missing or duplicated cell ids are repaired later
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as error:  # nbformat raises several kinds of validation errors
        findings.fatal.append(f"{name} is JSON but not a valid notebook ({str(error).splitlines()[0][:120]})")
        return findings
    missing = sorted(graded_ids(source) - graded_ids(notebook))
    if missing:
        findings.notes.append(
            f"{name}: graded cell(s) deleted: {', '.join(missing)} (they score 0; the student should keep "
            "every cell of the release and only fill in the answers)")
    return findings


def inspect_submission(folder: Path, sources: dict[str, nbformat.NotebookNode]) -> Findings:
    """Findings for ``submitted/<student>/<assignment>/`` given name → source notebook."""
    findings = Findings()
    present = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if not present:
        findings.fatal.append(f"empty submission: no notebook found (expected {', '.join(n + '.ipynb' for n in sources)})")
        return findings
    for name, source in sources.items():
        path = folder / f"{name}.ipynb"
        if not path.exists():
            findings.fatal.append(f"{name}.ipynb is missing (found: {', '.join(present)})")
            continue
        found = inspect_notebook(path, source)
        findings.fatal += found.fatal
        findings.notes += found.notes
    return findings
