"""What a TA reads after grading: a per-cell CSV and the printed summary."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat

CELL_COLUMNS = ["assignment", "student", "notebook", "cell", "score", "max_score", "message"]


def _cell_messages(path: Path) -> dict[str, str]:
    """grade id → what the graded cell told the student (verdict or error), short."""
    if not path.exists():
        return {}
    messages: dict[str, str] = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.cell_type != "code":
            continue
        texts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                texts.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "display_data" and "text/plain" in output.get("data", {}):
                text = str(output["data"]["text/plain"])
                if text.startswith(("✔", "Partly")):
                    texts.append(text)
        messages[grade_id] = " | ".join(texts).replace("\n", " ")[:500]
    return messages


def write_cell_csv(course, assignment: str, destination: Path) -> Path:
    """One row per student and graded cell: score, maximum, and the message shown."""
    rows = []
    with course.gradebook() as gradebook:
        for submission in sorted(gradebook.find_assignment(assignment).submissions, key=lambda s: s.student.id):
            student = submission.student.id
            for notebook in submission.notebooks:
                messages = _cell_messages(course.path("autograded", student, assignment, f"{notebook.name}.ipynb"))
                for grade in sorted(notebook.grades, key=lambda g: g.name):
                    rows.append({"assignment": assignment, "student": student, "notebook": notebook.name,
                                 "cell": grade.name, "score": grade.score, "max_score": grade.max_score,
                                 "message": messages.get(grade.name, "")})
    with open(destination, "w", newline="") as handle:
        writer = csv.DictWriter(handle, CELL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return Path(destination)


def summary(report) -> str:
    """The table printed at the end of ``course grade``."""
    results = sorted(report.results, key=lambda r: r.student)
    width = max([len("student")] + [len(r.student) for r in results])
    graded = [r for r in results if r.status == "graded"]
    unchanged = [r for r in results if r.status == "unchanged"]
    failed = [r for r in results if r.problem]
    per_notebook = sum(r.seconds for r in graded) / len(graded) if graded else 0.0
    lines = [f"{report.assignment}: {len(results)} submission(s) in {report.seconds:.1f} s "
             f"with {report.workers} worker(s), sandbox: {report.sandbox or '?'}",
             f"  graded {len(graded)}, unchanged since the last run {len(unchanged)}, failed {len(failed)}"
             + (f"; {per_notebook:.1f} s per submission in a worker" if graded else ""),
             *[f"  {remark}" for remark in getattr(report, "remarks", [])],
             "",
             f"{'student':<{width}}  {'score':>11}  {'status':<9}  note"]
    for r in results:
        score = f"{r.score:g} / {r.max_score:g}" if r.score is not None and r.max_score is not None else "—"
        notes = ([f"FAILED: {r.problem}"] if r.problem else []) + list(r.notes)
        lines.append(f"{r.student:<{width}}  {score:>11}  {r.status:<9}  {notes[0] if notes else ''}")
        lines += [f"{'':<{width}}  {'':>11}  {'':<9}  {note}" for note in notes[1:]]
    if failed:
        lines += ["", f"failed ({len(failed)}):"] + [f"  {r.student}: {r.problem}" for r in failed]
    for warning in report.warnings:
        lines += ["", f"WARNING: {warning}"]
    for label, path in (("grades CSV", report.grades_csv), ("cells CSV", getattr(report, "cells_csv", None)),
                        ("feedback", report.feedback_dir)):
        if path:
            lines.append(f"{label + ':':<12}{path}")
    return "\n".join(lines)


class Progress:
    """A running count while a class is graded, on *stream* (stderr).

    On a terminal one line is rewritten (``grading 02-signals: 3/40 …``); in a
    log or a pipe each submission gets a line of its own.
    """

    def __init__(self, assignment: str, stream=None):
        import sys

        self.assignment = assignment
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = None

    def __call__(self, result, done: int, total: int) -> None:
        import time

        self.start = self.start or time.perf_counter()
        score = (f"{result.score:g}/{result.max_score:g}" if result.score is not None and result.max_score is not None
                 else "no score")
        what = f"FAILED ({result.problem[:60]})" if result.problem else f"{score} in {result.seconds:.0f} s"
        line = f"grading {self.assignment}: {done}/{total} {result.student} {what}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if done == total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
