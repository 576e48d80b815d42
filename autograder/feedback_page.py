"""The student's feedback page: nbgrader's, made inert and honest.

- :class:`FeedbackExporter` is the exporter of ``generate_feedback``
  (``c.GenerateFeedback.exporter_class``): nbgrader's HTML exporter with the
  course's template (``autograder/templates/course_feedback``), which carries a
  Content-Security-Policy forbidding scripts and network requests, loads no
  MathJax (TeX is typeset to MathML on the server by
  :class:`~autograder.preprocessors.typeset.TypesetMath`; the page runs no code at all), and
  shows *awaiting grading* for answers no TA has graded.
- :func:`write_failure_page` writes ``feedback/<student>/<assignment>/<notebook>.html``
  for a submission that could not be graded, saying why and what to do.
- :func:`mark_problems` adds a ``problem`` column to the grades CSV, so a 0
  that means "could not be graded" is not read as a 0 that was earned.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import os
from pathlib import Path

import nbgrader
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
TEMPLATE_NAME = "course_feedback"

#: The policy every feedback page carries (meta tag, first in <head>).
CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; connect-src 'none'; "
       "img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'")


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter with the course's script-free template."""

    def __init__(self, config=None, **kwargs):
        # nbgrader's GenerateFeedback sets HTMLExporter.template_name = "feedback": this section wins.
        config = Config(copy.deepcopy(config)) if config is not None else Config()
        config.FeedbackExporter.template_name = TEMPLATE_NAME
        config.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
        super().__init__(config=config, **kwargs)


_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta charset="utf-8">
<title>{notebook}: not graded</title>
<style>
body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5; }}
.reason {{ border-left: 4px solid #d2413a; background: #fdf2f2; padding: 0.6em 1em; white-space: pre-wrap; }}
</style>
</head>
<body>
<h1>{notebook} ({assignment}): your submission could not be graded</h1>
<p>Score: 0 / {max_score} &#8212; not because of wrong answers: the grader could not run this submission.</p>
<h2>Why</h2>
<p class="reason" id="reason">{reason}</p>
<h2>What to do</h2>
<p>Fix what is described above (open the notebook from the course's release, copy your answers into it if
the file was damaged, then <em>Kernel &#8594; Restart Kernel and Run All Cells</em> and <em>Validate</em>),
and submit again, or ask your TA. Nothing in this submission was graded, so nothing is lost by fixing it.</p>
</body>
</html>
"""


def failure_page(notebook: str, assignment: str, reason: str, max_score: float | None) -> str:
    return _PAGE.format(csp=CSP, notebook=html.escape(notebook), assignment=html.escape(assignment),
                        reason=html.escape(reason), max_score=f"{max_score:g}" if max_score is not None else "?")


def write_failure_page(course, assignment: str, student: str, reason: str,
                       max_score: float | None = None) -> list[Path]:
    """A feedback page per notebook of *assignment* saying why *student*'s submission was not graded."""
    folder = course.path("feedback", student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in course.notebooks(assignment):
        path = folder / f"{notebook}.html"
        partial = path.with_suffix(".html.tmp")
        partial.write_text(failure_page(notebook, assignment, reason, max_score), encoding="utf-8")
        os.replace(partial, path)
        written.append(path)
    return written


def recorded_problems(course) -> dict[tuple[str, str], str]:
    """(assignment, student) → why grading failed, from each assignment's ``.grading/<assignment>.json``."""
    problems: dict[tuple[str, str], str] = {}
    for assignment in course.assignments():
        state = course.root / ".grading" / f"{assignment}.json"
        try:
            entries = json.loads(state.read_text()) if state.exists() else {}
        except (OSError, ValueError):
            continue
        for student, entry in entries.items():
            if isinstance(entry, dict) and entry.get("problem"):
                problems[(assignment, student)] = str(entry["problem"])
    return problems


def mark_problems(grades_csv: Path, problems: dict[tuple[str, str], str]) -> Path:
    """Add a ``problem`` column to nbgrader's grades CSV: why a row's submission was not graded."""
    path = Path(grades_csv)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = list(reader.fieldnames or []), list(reader)
    if not fields:
        return path
    if "problem" not in fields:
        fields.append("problem")
    for row in rows:
        row["problem"] = problems.get((row.get("assignment", ""), row.get("student_id", "")), "")
    partial = path.with_suffix(".csv.tmp")
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)
    return path
