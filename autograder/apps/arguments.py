"""Check a command's arguments before anything is written, and say what to do.

Each check raises :class:`UsageError` with one line; ``course`` prints it and
exits with code 2. They run before a course folder is created or touched, so
a mistake on the command line leaves every file as it was.
"""

from __future__ import annotations

import difflib
import zipfile
from datetime import datetime
from pathlib import Path

from autograder.course import REPOSITORY


class UsageError(Exception):
    """A mistake on the command line: one line that says what to do."""


def known_assignments(root: Path | str | None = None) -> list[str]:
    """Assignment ids in ``<root>/source`` (the repository's when the root has none yet)."""
    source = Path(root) / "source" if root and (Path(root) / "source").is_dir() else REPOSITORY / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_assignment(assignment: str, root: Path | str | None = None) -> str:
    known = known_assignments(root)
    if assignment in known:
        return assignment
    close = difflib.get_close_matches(assignment, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}?" if close else "check the spelling"
    raise UsageError(f"no assignment {assignment!r} in the course ({hint}); the course has: {', '.join(known)}")


def check_submissions(path: str | None) -> Path | None:
    """A folder, an nbgrader exchange or an LMS zip that holds notebooks."""
    if path is None:
        return None
    source = Path(path).expanduser()
    if not source.exists():
        raise UsageError(f"no folder or zip at {source}; give the folder of submissions or the zip the LMS exported")
    if source.is_dir():
        if not any(source.rglob("*.ipynb")):
            raise UsageError(f"{source} holds no notebooks (.ipynb); give the folder the submissions were saved in")
        return source
    if source.suffix.lower() == ".ipynb":
        raise UsageError(f"{source} is one notebook, not a class; put it in a folder as STUDENT/ASSIGNMENT/"
                         f"{source.name} and give that folder, or give the zip the LMS exported")
    if not zipfile.is_zipfile(source):
        raise UsageError(f"{source} is not a zip; give the zip the LMS exported, or a folder of submissions")
    with zipfile.ZipFile(source) as archive:
        if not any(name.lower().endswith(".ipynb") for name in archive.namelist()):
            raise UsageError(f"{source.name} holds no notebooks (.ipynb); download the submissions from the LMS "
                             "again, with the students' files")
    return source


def check_due(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--due {text!r} is not a date and time; write it as 'YYYY-MM-DD HH:MM' (UTC), "
                         "e.g. --due '2026-03-01 23:59'") from None


def check_workers(workers: int | None) -> int | None:
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers} would grade nothing; give 1 or more (default: one per core)")
    return workers


def check_notebook_path(path: str) -> Path:
    """A student's notebook for ``course validate``: an existing .ipynb that is JSON."""
    import json

    notebook = Path(path)
    if not notebook.is_file():
        raise UsageError(f"no notebook {notebook}; give the path of your .ipynb file")
    if notebook.suffix.lower() != ".ipynb":
        raise UsageError(f"{notebook} is not a notebook (.ipynb); give the path of your notebook, "
                         "e.g. course validate exercises/02-signals/signals.ipynb")
    try:
        with open(notebook, "rb") as handle:
            json.loads(handle.read(64 * 1024 * 1024))
    except (ValueError, OSError):
        raise UsageError(f"{notebook} is not a readable notebook (not JSON); download it again from JupyterLab "
                         "(File → Download) and validate that copy") from None
    return notebook
