"""The rubric beside each written answer, for TAs only.

Rubrics are written in the source notebook's manually graded answer cells
between ``=== BEGIN MARK SCHEME ===`` and ``=== END MARK SCHEME ===``;
nbgrader removes them from the release, so formgrader, which shows the
autograded notebook, never has them. :class:`ShowRubric` (the last step of
``autograde``, after :class:`~autograder.preprocessors.sanitize.SanitizeStudentContent`)
puts each rubric, read from the source notebook in the course folder — never
from anything the student handed in — into a read-only Markdown cell right
after the answer it belongs to, framed and labelled so that a TA can tell it
from the student's text (sanitised student content can carry no styles).
:class:`RemoveRubric` (a ``generate_feedback`` step) takes those cells out
again before the feedback is written.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.preprocessors.sanitize import clean_html, markdown_to_html

BEGIN, END = "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ==="
#: Cell metadata that marks an inserted rubric (student metadata never survives sanitising).
MARKER = "nn_course"

_FRAME = ('<div class="course-rubric" style="border: 3px solid #b35900; background: #fff4e0; '
          'padding: 0.6em 1em; margin: 0.4em 0 1.2em 0; border-radius: 4px;">'
          '<div style="font-weight: bold; color: #b35900; margin-bottom: 0.4em;">'
          'Rubric for <code>{grade_id}</code> ({points} points) &#8212; from the source notebook; '
          'TAs only, never in feedback</div>{body}</div>')


def mark_scheme(source: str) -> str | None:
    """The text between the mark-scheme markers of a source cell, or None."""
    if BEGIN not in source or END not in source:
        return None
    return source.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def source_notebook_path(config, assignment: str, notebook: str) -> Path:
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.source_directory, ".", assignment)) / f"{notebook}.ipynb"


def rubrics(path: Path) -> dict[str, tuple[str, float]]:
    """grade id → (mark scheme, points) for the manually graded cells of a source notebook."""
    if not path.exists():
        return {}
    found: dict[str, tuple[str, float]] = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        scheme = mark_scheme(cell.get("source", "")) if meta.get("grade") and meta.get("solution") else None
        if scheme and meta.get("grade_id"):
            found[meta["grade_id"]] = (scheme, float(meta.get("points", 0)))
    return found


def rubric_cell(grade_id: str, scheme: str, points: float) -> NotebookNode:
    body = clean_html(markdown_to_html(scheme))
    framed = _FRAME.format(grade_id=html.escape(grade_id), points=f"{points:g}", body=body)
    return from_dict({
        "cell_type": "markdown", "id": f"rubric-{grade_id}"[:64], "attachments": {},
        "metadata": {MARKER: {"rubric": grade_id}, "editable": False, "deletable": False},
        "source": framed.replace("\n", "&#10;"),
    })


def is_rubric(cell: NotebookNode) -> bool:
    return isinstance(cell.get("metadata", {}).get(MARKER), dict) and "rubric" in cell.metadata[MARKER]


class ShowRubric(NbGraderPreprocessor):
    """Put each written answer's rubric (from the source notebook) right after it."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader", {})
        if not info.get("assignment") or not info.get("notebook"):
            return nb, resources
        found = rubrics(source_notebook_path(self.config, info["assignment"], info["notebook"]))
        cells = []
        for cell in nb.cells:
            if is_rubric(cell):
                continue
            cells.append(cell)
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in found:
                cells.append(rubric_cell(grade_id, *found[grade_id]))
        nb.cells = cells
        return nb, resources


class RemoveRubric(NbGraderPreprocessor):
    """Feedback step: students never see the rubric cells TAs grade with."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb.cells = [cell for cell in nb.cells if not is_rubric(cell)]
        return nb, resources

