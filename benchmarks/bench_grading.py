"""Benchmark: grading a synthetic class, plain nbgrader vs ``course grade``.

    .venv/bin/python benchmarks/bench_grading.py [--students 40] [--workers N]

A class of N students for every assignment in ``source/`` (a cycle of
correct, correct, partly wrong — the key's typical mistake — and blank
submissions) is graded twice on this machine, each in a fresh scratch course:

1. plain ``nbgrader autograde ASSIGNMENT --student S``, one student at a time
   (one process per submission, the course's own config);
2. ``grade_class`` (what ``course grade`` runs) with all cores.

It prints submissions per minute for both, their ratio, the time per
notebook against a bare kernel start (plain and sandboxed), and writes the
figures to ``benchmarks/results/grading-<time>.csv``. Not part of the tests.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.course import CONFIG_FILE, Course
from autograder.demo import typical_mistake
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.pipeline import grade_class

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("correct", "correct", "partly-wrong", "blank")


def build_class(scratch: ScratchCourse, students: int, every: bool) -> dict[str, list[str]]:
    """Write the submissions; return assignment → student ids.

    Student *i* hands in assignment *i* mod the number of assignments, or
    every assignment when *every*.
    """
    course = scratch.course
    assignments = course.assignments()
    classes: dict[str, list[str]] = {}
    for index, assignment in enumerate(assignments):
        release, source = scratch.release_notebook(assignment), scratch.source_notebook(assignment)
        mistake = typical_mistake(assignment)
        name = course.notebooks(assignment)[0]
        variants = {"correct": fill_solutions(release, source),
                    "partly-wrong": fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]}),
                    "blank": release}
        classes[assignment] = []
        mine = range(students) if every else range(index, students, len(assignments))
        for n, i in enumerate(mine):
            student = f"s{i:03d}-{KINDS[n % len(KINDS)]}"
            folder = course.path("submitted", student, assignment)
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(variants[KINDS[n % len(KINDS)]], str(folder / f"{name}.ipynb"))
            classes[assignment].append(student)
    return classes


def plain_nbgrader(root: Path, classes: dict[str, list[str]]) -> float:
    """Seconds for ``nbgrader autograde`` run once per student, one after another."""
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(CONFIG_FILE)!r})\nc.CourseDirectory.root = {str(root)!r}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    for assignment, students in classes.items():
        for student in students:
            subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student,
                            "--force", "--log-level=ERROR"], cwd=root, env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def kernel_start_seconds(sandboxed: bool, repeats: int = 3) -> float:
    """Mean seconds to start a kernel, run one empty cell, and stop it."""
    from nbgrader.preprocessors import Execute

    from autograder.sandbox import SandboxedExecute

    times = []
    for _ in range(repeats):
        notebook = new_notebook(cells=[new_code_cell("pass")])
        notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
        executor = SandboxedExecute() if sandboxed else Execute()
        start = time.perf_counter()
        executor.preprocess(notebook, {"metadata": {"path": tempfile.gettempdir()}})
        times.append(time.perf_counter() - start)
    return sum(times) / len(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--every", action="store_true", help="every student hands in every assignment")
    args = parser.parse_args(argv)

    plain_root = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    ours_root = Path(tempfile.mkdtemp(prefix="bench-ours-"))
    plain, ours = ScratchCourse(plain_root), ScratchCourse(ours_root)
    classes = build_class(plain, args.students, args.every)
    build_class(ours, args.students, args.every)
    count = sum(len(s) for s in classes.values())
    print(f"class: {args.students} students, {len(classes)} assignment(s) ({', '.join(classes)}), "
          f"= {count} submissions; {os.cpu_count()} cores")

    plain_seconds = plain_nbgrader(plain_root, classes)
    plain_course = Course(plain_root)
    plain_graded = sum(plain_course.score(a, s) is not None for a, ss in classes.items() for s in ss)
    print(f"plain nbgrader autograde, one at a time: {plain_seconds:.1f} s, {plain_graded} graded, "
          f"{60 * count / plain_seconds:.1f} submissions/min")

    ours_seconds, per_notebook, failed = 0.0, [], 0
    for assignment in classes:
        start = time.perf_counter()
        report = grade_class(ours.course, assignment, workers=args.workers)
        ours_seconds += time.perf_counter() - start
        per_notebook += [r.seconds for r in report.results if r.status == "graded"]
        failed += len(report.failed)
    print(f"course grade, {args.workers} workers: {ours_seconds:.1f} s, {failed} failed, "
          f"{60 * count / ours_seconds:.1f} submissions/min")
    ratio = plain_seconds / ours_seconds
    print(f"speed-up: {ratio:.2f}×")

    mean_notebook = sum(per_notebook) / len(per_notebook)
    bare, boxed = kernel_start_seconds(False), kernel_start_seconds(True)
    print(f"per notebook in a worker: {mean_notebook:.2f} s (autograde + feedback); "
          f"bare kernel start+stop: {bare:.2f} s, sandboxed: {boxed:.2f} s")

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"grading-{datetime.now():%Y%m%d-%H%M%S}.csv"
    figures = {
        "students_per_assignment": args.students, "assignments": len(classes), "submissions": count,
        "cores": os.cpu_count(), "workers": args.workers,
        "plain_seconds": round(plain_seconds, 2), "plain_per_minute": round(60 * count / plain_seconds, 2),
        "course_grade_seconds": round(ours_seconds, 2), "course_grade_per_minute": round(60 * count / ours_seconds, 2),
        "speedup": round(ratio, 3), "per_notebook_seconds": round(mean_notebook, 3),
        "bare_kernel_seconds": round(bare, 3), "sandboxed_kernel_seconds": round(boxed, 3),
        "failed": failed,
    }
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(figures))
        writer.writeheader()
        writer.writerow(figures)
    print(f"wrote {out}")
    plain.cleanup()
    ours.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
