"""``course``: one command per job for instructors and TAs.

    course generate [ASSIGNMENT ...]    regenerate release/ and solutions/ (instructor)
    course check [ASSIGNMENT ...]       source earns full marks, release earns 0 (instructor)
    course grade ASSIGNMENT SUBMISSIONS grade a folder or LMS zip of submissions (TA)
    course export                       write the grades CSV from the gradebook (TA)
    course demo                         the whole pipeline on a small demo class
    course lab [FOLDER]                 open JupyterLab on the released notebooks (student)
    course validate NOTEBOOK ...        run a notebook's visible checks before submitting (student)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from autograder.course import REPOSITORY, Course


def _assignments(course: Course, requested: list[str]) -> list[str]:
    known = course.assignments()
    unknown = [a for a in requested if a not in known]
    if unknown:
        raise SystemExit(f"error: unknown assignment(s) {', '.join(unknown)}; the course has: {', '.join(known)}")
    return requested or known


def cmd_generate(args: argparse.Namespace) -> int:
    from autograder import consistency

    course = Course(args.root)
    for assignment in _assignments(course, args.assignments):
        start = time.perf_counter()
        disagreements = [problem for notebook in course.notebooks(assignment) for problem in
                         consistency.problems(course.path("source", assignment, f"{notebook}.ipynb"), assignment)]
        if disagreements:
            print("\n".join(["error: the notebook and its answer key disagree:"] + disagreements), file=sys.stderr)
            return 2
        course.generate_release(assignment)
        if not args.no_solutions:
            course.generate_solution(assignment)
        print(f"generated {assignment}: release/{assignment} and solutions/{assignment} "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.grading_session import ScratchCourse
    from autograder.judge import autograded_ids

    scratch = ScratchCourse()
    failures = 0
    try:
        for assignment in _assignments(scratch.course, args.assignments):
            solution = scratch.grade(assignment, scratch.source_notebook(assignment), "solution")
            blank = scratch.grade(assignment, scratch.release_notebook(assignment), "untouched-release")
            # Manually graded (written) cells score nothing until a person grades them.
            auto = autograded_ids(scratch.source_notebook(assignment))
            earned = sum(score or 0 for cell, (score, _) in solution.cells.items() if cell in auto)
            possible = sum(points for cell, (_, points) in solution.cells.items() if cell in auto)
            ok = earned == possible > 0 and blank.score == 0
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {assignment}: source {earned:g}/{possible:g} autograded points, "
                  f"untouched release {blank.score:g}/{blank.max_score:g}")
            if not ok:
                for cell, (score, points) in solution.cells.items():
                    if cell in auto and score != points:
                        print(f"     source loses points in {cell}: {solution.cell_output_text(cell)[:300]}")
    finally:
        scratch.cleanup()
    return 1 if failures else 0


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.pipeline import grade_class

    course = Course(args.root)
    if args.due:  # nbgrader's own due date: AssignLatePenalties and the late plugin read it
        from datetime import datetime

        with course.gradebook() as gradebook:
            gradebook.update_or_create_assignment(args.assignment, duedate=datetime.fromisoformat(args.due))
    report = grade_class(course, args.assignment, Path(args.submissions) if args.submissions else None,
                         workers=args.workers, force=args.force)
    print(report.table())
    return 0 if not report.failed else 3


def cmd_export(args: argparse.Namespace) -> int:
    course = Course(args.root)
    path = course.export_grades(Path(args.to))
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.demo import run_demo

    return run_demo(Path(args.directory), regenerate=not args.no_generate)


def cmd_lab(args: argparse.Namespace) -> int:
    import subprocess

    return subprocess.call([sys.executable, "-m", "jupyter", "lab", args.folder])


def cmd_validate(args: argparse.Namespace) -> int:
    import subprocess

    return subprocess.call([sys.executable, "-m", "nbgrader", "validate", *args.notebooks])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's log")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="regenerate release/ and solutions/ from source/ (instructor)")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--no-solutions", action="store_true", help="only the student release")
    p.add_argument("--root", default=str(REPOSITORY), help="course root (default: this repository)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("check", help="autograde the source (full marks?) and the release (0?) (instructor)")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="autograde submissions, write feedback and grades (TA)")
    p.add_argument("assignment")
    p.add_argument("submissions", nargs="?", help="folder or LMS zip of submissions (default: submitted/ in the root)")
    p.add_argument("--root", default=str(REPOSITORY), help="course root holding the gradebook")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    p.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    p.add_argument("--due", help="the assignment's deadline, e.g. '2025-03-01 23:59' (UTC), for late penalties")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("export", help="write nbgrader's grades CSV (TA)")
    p.add_argument("--to", default="grades.csv")
    p.add_argument("--root", default=str(REPOSITORY))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="run the whole course pipeline on a demo class")
    p.add_argument("--directory", default=str(REPOSITORY / "demo"), help="where the demo course is built")
    p.add_argument("--no-generate", action="store_true", help="skip generating the executed solutions")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("lab", help="open JupyterLab on the released notebooks (student)")
    p.add_argument("folder", nargs="?", default=str(REPOSITORY / "release"))
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("validate", help="check a notebook runs and passes its visible checks (student)")
    p.add_argument("notebooks", nargs="+")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # nbgrader's own use of SQLAlchemy warns about session internals on every grade.
        warnings.filterwarnings("ignore", message=".*not in session.*")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    return args.func(args)
