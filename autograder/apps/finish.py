"""``course finish``: the one step after a TA has graded by hand in formgrader.

Manual scores change a submission's total, so everything computed from the
total must follow: the late penalty (a share of what was *earned*, written
answers included), the feedback page (its score, its "awaiting grading"
lines), and the grades CSVs. This step does all of it from the gradebook,
without executing anything:

1. every graded submission's late penalty is computed again on its current
   score (nbgrader's plugin, the trusted submission time);
2. every feedback page older than its grades is generated again — "older"
   meaning the gradebook's scores, comments or penalty differ from those the
   page was written with (recorded in ``.grading/<assignment>-feedback.json``),
   or the page is missing;
3. nbgrader's grades CSV (with the ``problem`` column ``course grade``
   writes) and each per-cell CSV are written again;
4. with ``release``, nbgrader's ``release_feedback`` hands the pages to the
   students on the exchange.

Running it twice changes nothing the second time. ``course export`` runs the
same step, so an export never hands out numbers from before manual grading.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.apps.arguments import UsageError, check_assignment
from autograder.course import Course


@dataclass
class Finished:
    """What the step did, per assignment."""

    assignment: str
    penalties_changed: list[str] = field(default_factory=list)
    feedback_regenerated: list[str] = field(default_factory=list)
    feedback_failed: dict[str, str] = field(default_factory=dict)
    released: bool = False

    def line(self) -> str:
        penalties = ", ".join(self.penalties_changed) or "none changed"
        pages = ", ".join(self.feedback_regenerated) or "all up to date"
        text = (f"{self.assignment}: late penalties recomputed on the final scores ({penalties}); "
                f"feedback regenerated: {pages}")
        return text + ("; feedback released on the exchange" if self.released else "")


def check_destination(to: str | Path) -> Path:
    """The CSV's folder must exist: one line saying so, nothing written."""
    path = Path(to).expanduser()
    if path.is_dir():
        raise UsageError(f"--to {to} is a folder; give a file name, e.g. --to {Path(to) / 'grades.csv'}")
    if not path.parent.is_dir():
        raise UsageError(f"no folder {path.parent} for --to {to}; create it first or give another path")
    return path


def grades_digest(course: Course, assignment: str, student: str) -> str | None:
    """SHA-256 of what a feedback page shows from the gradebook: scores, comments, penalty."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return None
        facts = [submission.timestamp.isoformat() if submission.timestamp else None]
        for notebook in sorted(submission.notebooks, key=lambda n: n.name):
            facts.append([notebook.name, notebook.late_submission_penalty])
            facts += [[g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade]
                      for g in sorted(notebook.grades, key=lambda g: g.name)]
            facts += [[c.name, c.manual_comment, c.auto_comment] for c in sorted(notebook.comments, key=lambda c: c.name)]
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()


class FeedbackRecord:
    """Which grades each student's feedback page was written with: ``.grading/<assignment>-feedback.json``."""

    def __init__(self, course: Course, assignment: str):
        self.path = course.root / ".grading" / f"{assignment}-feedback.json"
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(partial, self.path)


def _pages_exist(course: Course, assignment: str, student: str) -> bool:
    folder = course.path("feedback", student, assignment)
    return all((folder / f"{notebook}.html").is_file() for notebook in course.notebooks(assignment))


def finish_assignment(course: Course, assignment: str, release: bool = False) -> Finished:
    """Penalties on the final score, stale feedback regenerated (see the module's docstring)."""
    from autograder.feedback_page import recorded_problems
    from autograder.plugins.late import reapply_late_penalties

    done = Finished(assignment)
    with course.gradebook() as gradebook:
        students = sorted(s.student.id for s in gradebook.find_assignment(assignment).submissions)
    failed = {student for (name, student) in recorded_problems(course) if name == assignment}
    graded = [s for s in students if s not in failed and course.path("autograded", s, assignment).is_dir()]
    # reapply_late_penalties regenerates the feedback of those it changed
    done.penalties_changed = reapply_late_penalties(course, assignment, graded)
    record = FeedbackRecord(course, assignment)
    for student in graded:
        digest = grades_digest(course, assignment, student)
        fresh = student in done.penalties_changed
        if not fresh and record.entries.get(student) == digest and _pages_exist(course, assignment, student):
            continue
        if not fresh:
            result = course.generate_feedback(assignment, student)
            if not result.get("success"):
                done.feedback_failed[student] = str(result.get("error") or "nbgrader generate_feedback failed")
                continue
        done.feedback_regenerated.append(student)
        record.entries[student] = digest
    record.save()
    if release:
        result = course.api.release_feedback(assignment)
        done.released = bool(result.get("success"))
    return done


def run(*, root: str | Path, assignment: str | None = None, to: str | Path | None = None,
        db_url: str = "", release: bool = False, out=print) -> int:
    """Finish *assignment* (every graded one when None) and write the CSVs; the exit code."""
    from autograder.cluster.gradebook import check_gradebook
    from autograder.feedback_page import mark_problems, recorded_problems
    from autograder.reports import write_cell_csv

    root = Path(root).expanduser()
    if not (root / "gradebook.db").exists() and not (root / "nbgrader_config.py").exists():
        raise UsageError(f"no graded class in {root}; grade one first (course grade ASSIGNMENT SUBMISSIONS) "
                         "or give its folder with --root")
    if assignment:
        check_assignment(assignment, root)
    destination = check_destination(to if to is not None else root / "grades.csv")
    course = Course(root, **({"CourseDirectory.db_url": db_url} if db_url else {}))
    check_gradebook(course.db_url)
    with course.gradebook() as gradebook:
        graded = [a.name for a in gradebook.assignments if a.submissions]
    chosen = [assignment] if assignment else graded
    failures = 0
    for name in chosen:
        if name not in graded:
            continue
        done = finish_assignment(course, name, release=release)
        out(done.line())
        for student, error in sorted(done.feedback_failed.items()):
            failures += 1
            out(f"  {student}: feedback could not be generated: {error.splitlines()[0] if error else ''}")
    path = mark_problems(course.export_grades(destination, chosen if assignment else None), recorded_problems(course))
    out(f"wrote {path}: {'assignment ' + assignment if assignment else 'every assignment'}, "
        "one row per student in the gradebook and assignment (no submission: score 0, as in nbgrader), "
        "scores after late penalties, a problem column for submissions that could not be graded")
    from autograder.roster import missing_submissions

    for name, students in missing_submissions(course, chosen).items():   # never a silent 0
        out(f"missing in {name} ({len(students)} on the roster with no submission; 0 in nbgrader's CSV): "
            f"{', '.join(students)}")
    for name in chosen:  # the per-cell CSVs, with the TA's manual grades as they are now
        if name in graded:
            out(f"wrote {write_cell_csv(course, name, course.root / f'grades-{name}-cells.csv')}")
    return 3 if failures else 0
