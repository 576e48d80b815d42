"""What a class got wrong: one assignment's results gathered from the gradebook.

:func:`class_results` reads three things the grading already keeps and
nothing a student's kernel said:

* nbgrader's gradebook: each submission's total and each graded cell's score,
  and whether a written answer still waits for a TA;
* the key's verdicts (:mod:`autograder.verdicts`): which named mistake each
  failed check matched;
* the grading state of ``course grade`` (``.grading/<assignment>.json``):
  submissions that could not be graded, and why.

The cells come in notebook order, from the instructor's source notebooks.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import nbformat

from autograder import verdicts
from autograder.course import Course
from autograder.preprocessors.judge import is_autograder_test


@dataclass
class CellInfo:
    """One graded cell of the assignment, as the instructor wrote it."""

    notebook: str
    grade_id: str
    points: float
    written: bool          # a manually graded (written) answer
    title: str = ""        # the nearest heading above it in the source notebook


@dataclass
class CellCredit:
    """How the class did on one cell: how many students earned full, part or no credit."""

    full: int = 0
    partial: int = 0
    none: int = 0
    waiting: int = 0       # written answers no TA has graded yet

    @property
    def graded(self) -> int:
        return self.full + self.partial + self.none


@dataclass
class MistakeCount:
    """One named mistake in one cell: how many students made it, and what they were told."""

    cell: str
    mistake: str
    students: list[str]
    message: str

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ClassResults:
    assignment: str
    cells: list[CellInfo]
    scores: dict[str, float]                       # student → total score (graded submissions)
    max_score: float
    credit: dict[str, CellCredit]                  # grade id → credit shares
    mistakes: dict[str, list[MistakeCount]]        # grade id → named mistakes, most frequent first
    unnamed: dict[str, int]                        # grade id → wrong answers that matched no named mistake
    unanswered: dict[str, int]                     # grade id → cells that recorded nothing to judge
    failures: dict[str, str] = field(default_factory=dict)  # student → why it could not be graded
    pending: dict[str, float] = field(default_factory=dict)  # student → points of written answers no TA graded yet

    @property
    def students(self) -> list[str]:
        return sorted(set(self.scores) | set(self.failures))

    def graded_points(self, student: str) -> float:
        """The points of *student*'s submission graded so far (written answers a TA has not graded left out)."""
        return self.max_score - self.pending.get(student, 0.0)

    def score_summary(self) -> dict[str, float]:
        """Figures on what is graded: a written answer waiting for a TA counts as pending, never as 0."""
        values = list(self.scores.values())
        shares = [self.scores[s] / self.graded_points(s) for s in self.scores if self.graded_points(s) > 0]
        complete = [v for s, v in self.scores.items() if not self.pending.get(s)]
        return {
            "graded": len(values),
            "could_not_be_graded": len(self.failures),
            "mean": statistics.fmean(values) if values else 0.0,
            "median": statistics.median(values) if values else 0.0,
            # the share of the points graded so far, so pending answers pull nothing down
            "mean_share": statistics.fmean(shares) if shares else 0.0,
            "pending_students": sum(1 for s in self.scores if self.pending.get(s)),
            "pending_points": sum(self.pending.get(s, 0.0) for s in self.scores),
            "full_marks": sum(1 for v in complete if self.max_score and abs(v - self.max_score) < 1e-9),
            # full marks on every part graded so far, with written answers still pending
            "full_so_far": sum(1 for s, v in self.scores.items()
                               if self.pending.get(s) and abs(v - self.graded_points(s)) < 1e-9),
            "nothing": sum(1 for v in values if abs(v) < 1e-9),
            "max_score": self.max_score,
        }


def graded_cells(course: Course, assignment: str) -> list[CellInfo]:
    """Every graded cell of *assignment* in notebook order, with the heading it sits under."""
    cells: list[CellInfo] = []
    for notebook in course.notebooks(assignment):
        source = nbformat.read(str(course.path("source", assignment, f"{notebook}.ipynb")), as_version=4)
        heading = ""
        for cell in source.cells:
            if cell.cell_type == "markdown":
                lines = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
                heading = lines[-1] if lines else heading
            info = cell.get("metadata", {}).get("nbgrader", {})
            if info.get("grade"):
                cells.append(CellInfo(notebook, info["grade_id"], float(info.get("points", 0)),
                                      written=not is_autograder_test(cell), title=heading))
    return cells


def _failures(course: Course, assignment: str) -> dict[str, str]:
    from autograder.pipeline import GradingState

    return {student: entry["problem"] for student, entry in GradingState(course, assignment).entries.items()
            if entry.get("problem")}


def class_results(course: Course, assignment: str) -> ClassResults:
    """Gather one assignment's results for the whole class (see the module docstring)."""
    cells = graded_cells(course, assignment)
    failures = _failures(course, assignment)
    scores: dict[str, float] = {}
    pending: dict[str, float] = {}
    credit = {cell.grade_id: CellCredit() for cell in cells}
    with course.gradebook() as gradebook:
        max_score = float(gradebook.find_assignment(assignment).max_score)
        for submission in gradebook.find_assignment(assignment).submissions:
            student = submission.student.id
            if student in failures:
                continue
            # after the late penalty, as in the grades CSV
            scores[student] = max(0.0, float(submission.score) - float(submission.late_submission_penalty or 0.0))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    tally = credit.setdefault(grade.name, CellCredit())
                    if grade.needs_manual_grade:
                        tally.waiting += 1
                        pending[student] = pending.get(student, 0.0) + float(grade.max_score)
                    elif grade.score >= grade.max_score - 1e-9:
                        tally.full += 1
                    elif grade.score > 1e-9:
                        tally.partial += 1
                    else:
                        tally.none += 1

    made: dict[tuple[str, str], list[str]] = defaultdict(list)
    told: dict[tuple[str, str], Counter] = defaultdict(Counter)
    unnamed: Counter = Counter()
    unanswered: Counter = Counter()
    for record in verdicts.load(course.db_url, course.coursedir.course_id, assignment):
        if record.student not in scores:
            continue  # a submission that is no longer graded (removed, or failed on a later run)
        if record.outcome == "unanswered":
            unanswered[record.cell] += 1
            continue
        if record.outcome == "full":
            continue
        named = False
        for mistake, message in zip(record.mistakes, record.messages):
            if mistake:
                named = True
                if record.student not in made[record.cell, mistake]:
                    made[record.cell, mistake].append(record.student)
                told[record.cell, mistake][message] += 1
        if not named:
            unnamed[record.cell] += 1
    mistakes: dict[str, list[MistakeCount]] = defaultdict(list)
    for (cell, mistake), students in made.items():
        message = told[cell, mistake].most_common(1)[0][0]
        mistakes[cell].append(MistakeCount(cell, mistake, sorted(students), message))
    for cell in mistakes:
        mistakes[cell].sort(key=lambda m: (-m.count, m.mistake))
    return ClassResults(assignment, cells, scores, max_score, credit, dict(mistakes), dict(unnamed),
                        dict(unanswered), failures, pending)
