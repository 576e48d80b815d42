"""``course``: one command per job for instructors and TAs.

The TA's commands (grade, export, report) work in the TA's course folder,
``$NN_COURSE_GRADING_ROOT`` or ``~/nn-course-grading`` (``--root`` for another);
the instructor's (generate, check) in this repository.

    course generate [ASSIGNMENT ...]    regenerate release/ and solutions/ (instructor)
    course check [ASSIGNMENT ...]       release/ up to date, source earns full marks, release 0 (instructor)
    course grade ASSIGNMENT SUBMISSIONS grade a folder or LMS zip of submissions (TA)
    course finish [ASSIGNMENT]          after manual grading: penalties, feedback, CSVs again (TA)
    course export [ASSIGNMENT]          the same step, writing the grades CSV where --to says (TA)
    course export --format canvas|moodle  the grades in the LMS's own import format (TA)
    course roster [import FILE]         the class list; import it from a Canvas or Moodle CSV (TA)
    course due ASSIGNMENT [WHEN]        the assignment's deadline (TA)
    course extend ASSIGNMENT STUDENT --days N [--reason TEXT]   one student's extension (--all: every assignment)
    course extensions [ASSIGNMENT]      every extension granted, with each student's own deadline (TA)
    course similarity ASSIGNMENT        pairs of submissions that look copied: a page and a CSV (instructor, TA)
    course serve [--once]               instant feedback: grade each exchange submission as it arrives (TA)
    course report ASSIGNMENT            what the class got wrong: plots and CSVs (instructor, TA)
    course demo                         the whole pipeline on a small demo class
    course student-package              build the wheel students install (exercises only)
    course lab [FOLDER] [LAB OPTIONS]   open JupyterLab, with nbgrader's instructor tools
    course validate NOTEBOOK ...        run a notebook's visible checks before submitting
    course release ASSIGNMENT           generate it in the TA folder and release it on the exchange (TA)
    course hub --trial                  the course on a local JupyterHub with demo accounts (instructor)

Exit codes: 0 done; 1 `check` found a problem (`validate`: nbgrader's own code);
2 a mistake on the command line or a course folder that cannot be used (one
line says what to do, nothing is written); 3 `grade` graded the class but
some submissions failed (each is listed with its reason, and gets a feedback
page saying why), or `finish`/`export` could not regenerate some feedback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from autograder.apps.arguments import (UsageError, check_assignment, check_due, check_notebook_path,
                                      check_submissions, check_workers)
from autograder.course import REPOSITORY, Course, CourseError, grading_root, prepare_grading_root


def _assignments(course: Course, requested: list[str]) -> list[str]:
    known = course.assignments()
    unknown = [a for a in requested if a not in known]
    for assignment in unknown:
        check_assignment(assignment, course.root)
    return requested or known


def cmd_generate(args: argparse.Namespace) -> int:
    from autograder import consistency
    from autograder.release_changes import check_can_grade

    course = Course(args.root)
    for assignment in _assignments(course, args.assignments):
        start = time.perf_counter()
        disagreements = [problem for notebook in course.notebooks(assignment) for problem in
                         consistency.problems(course.path("source", assignment, f"{notebook}.ipynb"), assignment)]
        if disagreements:
            print("\n".join(["error: the notebook and its answer key disagree:"] + disagreements), file=sys.stderr)
            return 2
        check_can_grade(course, assignment, update=False)  # nbgrader refuses new cells once there are submissions
        course.generate_release(assignment)
        if not args.no_solutions:
            course.generate_solution(assignment)
        print(f"generated {assignment}: release/{assignment} and solutions/{assignment} "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.grading_session import ScratchCourse
    from autograder.preprocessors.judge import autograded_ids

    from autograder.keyrunner import key_file
    from autograder.release_changes import stale_cells

    root = Path(args.root).resolve()
    if not (root / "source").is_dir():
        raise UsageError(f"no source/ folder in {root}; give the course root with --root")
    for assignment in args.assignments:
        check_assignment(assignment, root)
    scratch = ScratchCourse(source=root / "source")
    failures = 0
    try:
        for assignment in _assignments(scratch.course, args.assignments):
            stale = stale_cells(root / "release" / assignment, scratch.release(assignment))
            if stale:
                failures += 1
                print(f"FAIL {assignment}: release/{assignment} is stale, run `course generate {assignment}`")
                for problem in stale:
                    print(f"     {problem}")
            solution = scratch.grade(assignment, scratch.source_notebook(assignment), "solution")
            blank = scratch.grade(assignment, scratch.release_notebook(assignment), "untouched-release")
            # Manually graded (written) cells score nothing until a person grades them.
            auto = autograded_ids(scratch.source_notebook(assignment))
            earned = sum(score or 0 for cell, (score, _) in solution.cells.items() if cell in auto)
            possible = sum(points for cell, (_, points) in solution.cells.items() if cell in auto)
            ok = earned == possible > 0 and blank.score == 0
            failures += not ok
            print(f"{'ok  ' if ok and not stale else 'FAIL'} {assignment}: source {earned:g}/{possible:g} autograded points, "
                  f"untouched release {blank.score:g}/{blank.max_score:g}")
            if not ok:
                for cell, (score, points) in solution.cells.items():
                    if cell in auto and score != points:
                        print(f"     source loses points in {cell} (answer key: {_shown(key_file(assignment))}):")
                        print(_indented(solution.cell_output_text(cell)))
    finally:
        scratch.cleanup()
    return 1 if failures else 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPOSITORY))
    except ValueError:
        return str(path)


def _indented(text: str, limit: int = 600, prefix: str = "       ") -> str:
    """The key's message under its line: indented, and cut at a word, never inside one."""
    text = text.strip()
    if len(text) > limit:
        text = text[:limit].rsplit(None, 1)[0] + " …"
    return "\n".join(prefix + line for line in text.splitlines() if line.strip())


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.cluster.executors import open_backend
    from autograder.cluster.gradebook import check_gradebook, is_sqlite
    from autograder.pipeline import grade_class
    from autograder.release_changes import check_can_grade
    from autograder.reports import Progress

    # Every mistake on the command line is found before the course folder is touched.
    args.root = args.root or str(grading_root())
    check_assignment(args.assignment, args.root)
    submissions = check_submissions(args.submissions)
    due = check_due(args.due)
    check_workers(args.workers)
    course = Course(prepare_grading_root(args.root), **_gradebook_override(args))
    check_gradebook(course.db_url)
    check_can_grade(course, args.assignment, args.update_assignment)
    where = course.config.get("CourseGrading", {})
    backend = open_backend(args.cluster or where.get("cluster", ""), args.scheduler or where.get("scheduler", ""),
                           args.workers, gradebook_is_sqlite=is_sqlite(course.db_url))
    if due:  # nbgrader's own due date: AssignLatePenalties and the late plugin read it
        with course.gradebook() as gradebook:
            gradebook.update_or_create_assignment(args.assignment, duedate=due)
    with backend:
        report = grade_class(course, args.assignment, submissions,
                             workers=backend.workers, force=args.force, executor=backend.executor,
                             where=backend.description if backend.executor else "",
                             update_assignment=args.update_assignment, progress=Progress(args.assignment))
    print(report.table())
    waiting = _written_points_waiting(course, args.assignment)
    if waiting:
        print(waiting)
    print(f"{'report:':<12}{_class_report(course, args.assignment)}")
    return 0 if not report.failed else 3


def _written_points_waiting(course: Course, assignment: str) -> str:
    """How many points of written answers wait for a TA in formgrader (empty when none)."""
    from autograder.insight import class_results

    results = class_results(course, assignment)
    waiting = [(cell, results.credit[cell.grade_id].waiting) for cell in results.cells if cell.written]
    points = sum(cell.points * count for cell, count in waiting)
    if not points:
        return ""
    answers = sum(count for _, count in waiting)
    return (f"written answers: {answers} answer(s), {points:g} points in all, wait for a TA in formgrader "
            "(the scores above count them as 0 until then)")


def _class_report(course: Course, assignment: str) -> str:
    """Write the class's insight report after grading; its path (or why there is none)."""
    from autograder.apps.report import ReportError, write_report

    try:
        return str(write_report(course, assignment))
    except ReportError as error:
        return f"none ({error})"


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.apps.report import ReportError, write_report

    course = Course(args.root or grading_root())
    try:
        page = write_report(course, args.assignment, Path(args.out) if args.out else None, anonymous=args.anonymous)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {page} (and its CSV files beside it)")
    return 0


def _gradebook_override(args: argparse.Namespace) -> dict:
    """``--db-url`` wins over ``c.CourseDirectory.db_url`` in nbgrader_config.py."""
    return {"CourseDirectory.db_url": args.db_url} if getattr(args, "db_url", None) else {}


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.apps.finish import run

    # the after-grading step: penalties on the final scores and fresh feedback before any CSV
    root = args.root or grading_root()
    if getattr(args, "format", "nbgrader") == "nbgrader":
        return run(root=root, assignment=args.assignment, to=args.to, db_url=args.db_url,
                   release=getattr(args, "release", False))
    from autograder.apps.lms_export import run as lms_export
    from autograder.roster import load_roster

    code = 0
    folder = Path(root).expanduser().resolve()
    if ((folder / "gradebook.db").exists() or (folder / "nbgrader_config.py").is_file()) and load_roster(folder):
        # the LMS's file from the final numbers (without a roster it says what to do, writing nothing)
        code = run(root=root, assignment=args.assignment, db_url=args.db_url)
    return code or lms_export(root=folder, format=args.format,
                              to=args.to if args.to != "grades.csv" else None,
                              assignments=[args.assignment] if args.assignment else None)


cmd_finish = cmd_export


def _existing_root(args: argparse.Namespace) -> Path:
    """The TA's course folder for a command that only reads it: never created by a mistake."""
    root = Path(args.root or grading_root()).expanduser()
    if not (root / "nbgrader_config.py").is_file() and not (root / "gradebook.db").is_file():
        raise UsageError(f"no course folder at {root}; import the class list or grade first, or give the folder "
                         "with --root")
    return root


def cmd_roster(args: argparse.Namespace) -> int:
    from autograder.apps.roster import run

    if args.action not in (None, "import") or (args.action == "import") != bool(args.file):
        raise UsageError("write course roster to list the class, or course roster import FILE to import the "
                         "class list the LMS exported (a .csv file)")
    root = prepare_grading_root(args.root or grading_root()) if args.file else _existing_root(args)
    return run(root=root, file=args.file, id_column=args.id_column)


def cmd_due(args: argparse.Namespace) -> int:
    from autograder.apps.due import run

    root = args.root or grading_root()
    check_assignment(args.assignment, root)
    return run(root=prepare_grading_root(root), assignment=args.assignment, when=args.when)


def cmd_extend(args: argparse.Namespace) -> int:
    from autograder.apps.extend import run

    if len(args.who) != (1 if args.all else 2):
        raise UsageError("write course extend ASSIGNMENT STUDENT --days N (one assignment) or "
                         "course extend --all STUDENT --days N (a standing accommodation)")
    root = args.root or grading_root()
    if not args.all:
        check_assignment(args.who[0], root)
    return run(root=prepare_grading_root(root), student=args.who[-1], days=args.days,
               assignment=None if args.all else args.who[0], every=args.all, reason=args.reason)


def cmd_extensions(args: argparse.Namespace) -> int:
    from autograder.apps.extensions import run

    return run(root=_existing_root(args), assignment=args.assignment)


def cmd_similarity(args: argparse.Namespace) -> int:
    from autograder.apps.similarity import run

    check_assignment(args.assignment, args.root or grading_root())
    return run(root=_existing_root(args), assignment=args.assignment, out_dir=args.out, top=args.top)


def cmd_serve(args: argparse.Namespace) -> int:
    from autograder.apps.serve import run

    return run(args)   # checks its arguments, then prepares the course folder


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.demo import run_demo

    return run_demo(Path(args.directory), regenerate=not args.no_generate)


def cmd_lab(args: argparse.Namespace) -> int:
    """JupyterLab with nbgrader's instructor tools; any JupyterLab option passes through."""
    import os
    import subprocess

    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}; give the folder to open, e.g. course lab source")
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={folder.resolve()}", *args.lab_options]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args.lab_options:
        command.append("--allow-root")  # a container or a fresh VM: JupyterLab refuses root without it
    return subprocess.call(command, cwd=folder)


#: What Validate's "Success!" means here: nbgrader cannot know the graded checks.
VALIDATE_MEANS = ("  (This means every visible check passed and no answer is left empty. The graded checks run "
                  "when your work is graded, so your score can still be lower than full marks.)")


def cmd_validate(args: argparse.Namespace) -> int:
    import subprocess

    for notebook in args.notebooks:
        check_notebook_path(notebook)
    # Run from the course folder, so nbgrader reads the course's nbgrader_config.py.
    run = subprocess.run([sys.executable, "-m", "nbgrader", "validate",
                          *[str(Path(notebook).resolve()) for notebook in args.notebooks]],
                         capture_output=True, text=True, cwd=REPOSITORY)
    for line in (run.stdout + run.stderr).splitlines():
        print(line)
        if line.startswith("Success! Your notebook passes all the tests"):
            print(VALIDATE_MEANS)
    return run.returncode


def cmd_student_package(args: argparse.Namespace) -> int:
    from autograder.apps.student_package import build, contents

    wheel = build(Path(args.dist))
    print(f"wrote {wheel} ({len(contents(wheel))} files: exercises/ and the JupyterLab settings for students)")
    print(f"students install it with: pip install {wheel.name}")
    return 0


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

    p = sub.add_parser("check", help="the release is up to date, the source earns full marks, the release 0 "
                                     "(instructor)")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--root", default=str(REPOSITORY), help="course root (default: this repository)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="autograde submissions, write feedback and grades (TA)")
    p.add_argument("assignment")
    p.add_argument("submissions", nargs="?", help="folder or LMS zip of submissions (default: submitted/ in the root)")
    p.add_argument("--root", default=None, help="the TA's course folder holding the gradebook "
                                                "(default: $NN_COURSE_GRADING_ROOT or ~/nn-course-grading)")
    p.add_argument("--update-assignment", action="store_true",
                   help="the assignment's cells changed since the class was graded: regenerate it and grade "
                        "every submission again (its grades in the gradebook, manual ones included, start over)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    p.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    p.add_argument("--due", help="the assignment's deadline, e.g. '2025-03-01 23:59' (UTC), for late penalties")
    p.add_argument("--cluster", default="", metavar="local[:N]",
                   help="grade on a Dask LocalCluster of N worker processes (default N: one per core)")
    p.add_argument("--scheduler", default="", metavar="tcp://HOST:8786",
                   help="grade on an existing Dask cluster (course folder at the same path on every worker, "
                        "gradebook on PostgreSQL)")
    p.add_argument("--db-url", default="", metavar="postgresql://USER@HOST/DB",
                   help="the gradebook (default: c.CourseDirectory.db_url, else SQLite in the root)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("report", help="what the class got wrong: an HTML page of plots and CSVs (instructor, TA)")
    p.add_argument("assignment")
    p.add_argument("--root", default=None, help="the TA's course folder holding the gradebook "
                                                "(default: $NN_COURSE_GRADING_ROOT or ~/nn-course-grading)")
    p.add_argument("--out", help="folder for the page and its CSVs (default: reports/ASSIGNMENT in the root)")
    p.add_argument("--anonymous", action="store_true", help="leave out every student identifier (for sharing)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="the after-grading step (as finish), writing nbgrader's grades CSV to --to (TA)")
    p.add_argument("assignment", nargs="?", help="export this assignment only (default: every assignment)")
    p.add_argument("--to", default="grades.csv", help="the file written (default: grades.csv; with --format, "
                                                      "grades-FORMAT.csv in the root)")
    p.add_argument("--format", choices=["nbgrader", "canvas", "moodle"], default="nbgrader",
                   help="nbgrader's grades CSV (default), or the file Canvas's or Moodle's grade import takes")
    p.add_argument("--db-url", default="", metavar="postgresql://USER@HOST/DB",
                   help="the gradebook (default: c.CourseDirectory.db_url, else SQLite in the root)")
    p.add_argument("--root", default=None, help="the TA's course folder (default: $NN_COURSE_GRADING_ROOT "
                                                "or ~/nn-course-grading)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("finish", help="after grading by hand: late penalties on the final scores, stale feedback "
                                      "regenerated, grades CSVs rewritten; safe to run again (TA)")
    p.add_argument("assignment", nargs="?", help="this assignment only (default: every graded assignment)")
    p.add_argument("--release", action="store_true", help="then release the feedback on nbgrader's exchange")
    p.add_argument("--to", default=None, help="the grades CSV (default: grades.csv in the course folder)")
    p.add_argument("--db-url", default="", metavar="postgresql://USER@HOST/DB",
                   help="the gradebook (default: c.CourseDirectory.db_url, else SQLite in the root)")
    p.add_argument("--root", default=None, help="the TA's course folder (default: $NN_COURSE_GRADING_ROOT "
                                                "or ~/nn-course-grading)")
    p.set_defaults(func=cmd_finish)

    root_help = "the TA's course folder (default: $NN_COURSE_GRADING_ROOT or ~/nn-course-grading)"
    p = sub.add_parser("roster", help="the class list; `course roster import FILE` imports a Canvas or Moodle "
                                      "class list into the gradebook (TA)")
    p.add_argument("action", nargs="?", help="import")
    p.add_argument("file", nargs="?", help="the CSV the LMS exported (Canvas: Grades → Export; Moodle: Grades → "
                                           "Export → Plain text file, or the participants table)")
    p.add_argument("--id-column", default=None, help="the column that holds the ids the course uses "
                                                     "(default: SIS Login ID for Canvas, the name as in LMS zips)")
    p.add_argument("--root", default=None, help=root_help)
    p.set_defaults(func=cmd_roster)

    p = sub.add_parser("due", help="show or set an assignment's deadline (TA)")
    p.add_argument("assignment")
    p.add_argument("when", nargs="?", help="'YYYY-MM-DD HH:MM' (UTC)")
    p.add_argument("--root", default=None, help=root_help)
    p.set_defaults(func=cmd_due)

    p = sub.add_parser("extend", help="give one student more time: on one assignment, or --all for a standing "
                                      "accommodation (TA)")
    p.add_argument("who", nargs="+", metavar="ASSIGNMENT STUDENT", help="the assignment and the student "
                                                                        "(only the student with --all)")
    p.add_argument("--days", type=float, required=True, help="extra days (fractions allowed; 0 takes it back)")
    p.add_argument("--reason", default="", help="for the course staff; students never see it")
    p.add_argument("--all", action="store_true", help="every assignment, those created later included")
    p.add_argument("--root", default=None, help=root_help)
    p.set_defaults(func=cmd_extend)

    p = sub.add_parser("extensions", help="list extensions and accommodations with each student's own deadline (TA)")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--root", default=None, help=root_help)
    p.set_defaults(func=cmd_extensions)

    p = sub.add_parser("similarity", help="rank pairs of submissions by how much answer code and text they share: "
                                          "an offline page and a CSV (instructor, TA)")
    p.add_argument("assignment")
    p.add_argument("--out", default=None, help="folder for the page and CSV (default: reports/ASSIGNMENT in the root)")
    p.add_argument("--top", type=int, default=30, help="pairs shown side by side on the page (default 30)")
    p.add_argument("--root", default=None, help=root_help)
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("serve", help="grade each submission on the nbgrader exchange as it arrives and "
                                     "release its feedback (TA; a service)")
    from autograder.apps.serve import add_arguments as serve_arguments

    serve_arguments(p, default_root=None)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the whole course pipeline on a demo class")
    p.add_argument("--directory", default=str(REPOSITORY / "demo"), help="where the demo course is built")
    p.add_argument("--no-generate", action="store_true", help="skip generating the executed solutions")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("lab", help="open JupyterLab with nbgrader's instructor tools; "
                                   "JupyterLab options (--no-browser, --port 8899 …) pass through")
    p.add_argument("folder", nargs="?", default=str(REPOSITORY / "release"))
    p.set_defaults(func=cmd_lab, lab_options=[])

    p = sub.add_parser("student-package", help="build the wheel students install: exercises only (instructor)")
    p.add_argument("--dist", default=str(REPOSITORY / "dist"), help="where the wheel is written")
    p.set_defaults(func=cmd_student_package)

    p = sub.add_parser("validate", help="check a notebook runs and passes its visible checks (student)")
    p.add_argument("notebooks", nargs="+")
    p.set_defaults(func=cmd_validate)
    from autograder.apps import hub, release

    release.add_parser(sub)
    hub.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.lab_options = extra
    if not args.verbose:
        # nbgrader's own use of SQLAlchemy warns about session internals on every grade.
        warnings.filterwarnings("ignore", message=".*not in session.*")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    from autograder.cluster.executors import ClusterError
    from autograder.cluster.gradebook import GradebookError
    from autograder.intake import IntakeError

    try:
        return args.func(args)
    except (GradebookError, ClusterError, IntakeError) as error:  # cannot work (or refused input): say what to do
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (UsageError, CourseError) as error:  # a mistake on the command line, or a step nbgrader refuses
        print(f"error: {str(error).splitlines()[0] if isinstance(error, UsageError) else error}", file=sys.stderr)
        return 2
