"""Grade single notebooks in a scratch course: for `course check` and tests.

A :class:`ScratchCourse` is a temporary course root whose ``source/`` points at
the repository's. It generates an assignment once, then autogrades any number
of notebook variants as separate students and reports their scores.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import REPOSITORY, Course


@dataclass
class GradedNotebook:
    student: str
    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]
    notebook: nbformat.NotebookNode | None
    log: str

    def cell_output_text(self, grade_id: str) -> str:
        """Everything a graded cell shows, as text (errors included)."""
        for cell in self.notebook.cells if self.notebook else []:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                parts = []
                for output in cell.get("outputs", []):
                    parts.append(output.get("text", "") or output.get("evalue", "") or
                                 str(output.get("data", {}).get("text/plain", "")))
                return "\n".join(parts)
        raise KeyError(grade_id)


class ScratchCourse:
    """A throw-away course root sharing the repository's ``source/`` (or another course's)."""

    def __init__(self, directory: Path | None = None, source: Path = REPOSITORY / "source", **overrides: object):
        self.root = Path(directory or tempfile.mkdtemp(prefix="course-"))
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / "source").exists():
            (self.root / "source").symlink_to(Path(source).resolve(), target_is_directory=True)
        self.course = Course(self.root, **overrides)
        self._generated: set[str] = set()
        self._counter = itertools.count(1)

    def release(self, assignment: str) -> Path:
        if assignment not in self._generated:
            self.course.generate_release(assignment)
            self._generated.add(assignment)
        return self.course.path("release", assignment)

    def solutions(self, assignment: str) -> Path:
        """Generate the executed solution handout (needs the release first)."""
        self.release(assignment)
        return self.course.generate_solution(assignment)

    def release_notebook(self, assignment: str) -> nbformat.NotebookNode:
        notebook = self.course.notebooks(assignment)[0]
        return nbformat.read(str(self.release(assignment) / f"{notebook}.ipynb"), as_version=4)

    def source_notebook(self, assignment: str) -> nbformat.NotebookNode:
        notebook = self.course.notebooks(assignment)[0]
        return nbformat.read(str(self.course.path("source", assignment, f"{notebook}.ipynb")), as_version=4)

    def grade(self, assignment: str, notebook: nbformat.NotebookNode | bytes | str | None,
              student: str | None = None) -> GradedNotebook:
        """Autograde one submission: a notebook, raw file content, or None (empty folder)."""
        self.release(assignment)
        student = student or f"student{next(self._counter)}"
        name = self.course.notebooks(assignment)[0]
        target = self.course.path("submitted", student, assignment)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if isinstance(notebook, nbformat.NotebookNode):
            nbformat.write(notebook, str(target / f"{name}.ipynb"))
        elif isinstance(notebook, (bytes, str)):
            data = notebook.encode() if isinstance(notebook, str) else notebook
            (target / f"{name}.ipynb").write_bytes(data)
        result = self.course.autograde(assignment, student)
        graded_file = self.course.path("autograded", student, assignment, f"{name}.ipynb")
        graded = nbformat.read(str(graded_file), as_version=4) if graded_file.exists() else None
        score = self.course.score(assignment, student)
        cells = self.course.cell_scores(assignment, student) if score else {}
        return GradedNotebook(student, score.score if score else 0.0, score.max_score if score else 0.0,
                              cells, graded, result.get("log", "") + str(result.get("error", "")))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def fill_solutions(release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                   replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A student's notebook: the release with every solution cell answered from
    *source*, except the cells in *replace* (grade id → code) which get that code."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    filled = nbformat.from_dict(release)
    for cell in filled.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = (replace or {}).get(grade_id, _strip_markers(answers[grade_id]))
    return filled


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
