"""Grade a class: every submission of one assignment, then feedback and grades.

``grade_class`` autogrades each student's submission with nbgrader, writes
feedback HTML and exports the grades CSV. One broken submission costs only
its own points: a failure is recorded in the report with its reason and the
rest of the class goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.preflight import inspect_submission


@dataclass
class StudentResult:
    student: str
    score: float | None
    max_score: float | None
    seconds: float
    problem: str | None = None


@dataclass
class ClassReport:
    assignment: str
    results: list[StudentResult] = field(default_factory=list)
    grades_csv: Path | None = None
    feedback_dir: Path | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[StudentResult]:
        return [r for r in self.results if r.problem]

    def table(self) -> str:
        width = max([len("student")] + [len(r.student) for r in self.results])
        lines = [f"{self.assignment}: {len(self.results)} submission(s) in {self.seconds:.1f} s",
                 f"{'student':<{width}}  {'score':>11}  note"]
        for r in sorted(self.results, key=lambda r: r.student):
            score = f"{r.score:g} / {r.max_score:g}" if r.score is not None else "—"
            lines.append(f"{r.student:<{width}}  {score:>11}  {r.problem or ''}")
        if self.grades_csv:
            lines.append(f"grades CSV: {self.grades_csv}")
        if self.feedback_dir:
            lines.append(f"feedback:   {self.feedback_dir}")
        return "\n".join(lines)


def submitted_students(course: Course, assignment: str) -> list[str]:
    submitted = course.path("submitted")
    if not submitted.exists():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("[ERROR]") or "Error" in line:
            return line.removeprefix("[ERROR] ").strip()[:200]
    return "autograding failed (see the log)"


def grade_one(course: Course, assignment: str, student: str) -> StudentResult:
    start = time.perf_counter()
    folder = course.path("submitted", student, assignment)
    sources = {name: nbformat.read(str(course.path("source", assignment, f"{name}.ipynb")), as_version=4)
               for name in course.notebooks(assignment)}
    findings = inspect_submission(folder, sources)
    if findings.fatal:
        course.enrol(student)
        return StudentResult(student, 0.0, course.max_score(assignment), time.perf_counter() - start,
                             findings.summary())
    result = course.autograde(assignment, student)
    problem = None if result.get("success") else _first_error(result.get("log", ""))
    if not problem:
        course.generate_feedback(assignment, student)
    score = course.score(assignment, student)
    return StudentResult(student, score.score if score else None, score.max_score if score else None,
                         time.perf_counter() - start, problem or findings.summary())


def grade_class(course: Course, assignment: str, source: Path | None = None,
                workers: int | None = None, force: bool = False) -> ClassReport:
    """Autograde every submission of *assignment* in the course's ``submitted/``.

    *source* (a folder in nbgrader's layout) is copied in first when given.
    """
    start = time.perf_counter()
    if source is not None:
        raise NotImplementedError("intake from a folder or zip comes with the class-grading pipeline")
    report = ClassReport(assignment)
    for student in submitted_students(course, assignment):
        report.results.append(grade_one(course, assignment, student))
    report.grades_csv = course.export_grades(course.root / "grades.csv")
    report.feedback_dir = course.path("feedback")
    report.seconds = time.perf_counter() - start
    return report
