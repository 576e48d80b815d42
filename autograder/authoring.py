"""Build nbgrader notebooks from Python, for instructors who prefer scripts.

The source notebooks in ``source/`` are the one place where solutions are
written; this module only helps create or rebuild them with the right
nbgrader cell metadata::

    nb = new_notebook([
        markdown("intro", "# Signals through a network ..."),
        solution("sigmoid_impl", "def sigmoid(x):\\n    ### BEGIN SOLUTION ..."),
        graded("sigmoid", 2, "### BEGIN HIDDEN TESTS\\nrecord(...)\\n### END HIDDEN TESTS"),
    ])
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbformat.v4 import new_notebook as _new_notebook


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(grade_id: str, text: str):
    """A read-only explanation cell."""
    return new_markdown_cell(text.strip("\n"), metadata=_meta(grade_id, grade=False, solution=False, locked=True))


def code(grade_id: str, source: str):
    """A read-only code cell (a worked example, imports, a plot)."""
    return new_code_cell(source.strip("\n"), metadata=_meta(grade_id, grade=False, solution=False, locked=True))


def solution(grade_id: str, source: str):
    """A code cell the student completes (``### BEGIN/END SOLUTION``)."""
    return new_code_cell(source.strip("\n"), metadata=_meta(grade_id, grade=False, solution=True, locked=False))


def graded(grade_id: str, points: float, source: str):
    """An autograded test cell: it records answers; a key judges them."""
    return new_code_cell(source.strip("\n"), metadata=_meta(grade_id, grade=True, solution=False, locked=True, points=points))


def written(grade_id: str, points: float, text: str):
    """A manually graded Markdown answer."""
    return new_markdown_cell(text.strip("\n"), metadata=_meta(grade_id, grade=True, solution=True, locked=False, points=points))


def new_notebook(cells: list) -> nbformat.NotebookNode:
    nb = _new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = cell.metadata["nbgrader"]["grade_id"].replace("_", "-")[:64] or f"cell-{index}"
    return nb


def write(nb: nbformat.NotebookNode, path: Path | str) -> None:
    nbformat.validate(nb)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
