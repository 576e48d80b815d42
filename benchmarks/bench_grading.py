"""Benchmark: grading one class, against nbgrader's own commands and against bare execution.

    .venv/bin/python benchmarks/bench_grading.py [--students 20] [--assignment 02-signals]

One class (a cycle of correct, correct, the key's typical mistake and blank
submissions) is graded on this machine, each way in a fresh course folder
with the same submissions:

1. **anchor**: what a TA who knows nbgrader runs — ``nbgrader autograde
   ASSIGNMENT`` and then ``nbgrader generate_feedback ASSIGNMENT``, once each
   for the whole class (one process each, the course's own config: the same
   sandbox and answer keys);
2. ``course grade`` with the local process pool (one worker per core);
3. ``course grade --cluster local:1`` and ``--cluster local:2`` (a Dask
   LocalCluster of 1 and of 2 workers: the scaling ratio);
4. the **floor**: the same notebooks executed once each with nbclient and no
   grading at all, one after another, divided by the number of cores.

It prints each time, the ratios anchor/course and course/floor, and where
one submission's time goes in a worker (kernel start, sandbox set-up,
execution, judging, nbgrader's own steps and gradebook writes, feedback),
measured on a few submissions graded in this process both as grading worked
before (a pytest session per notebook, feedback templates compiled per
page, sources re-read per submission, the kernel shut down gracefully) and
as it works now. The figures go to
``benchmarks/results/grading.csv``. Not part of the tests; the machine's load
average is printed beside them, since a busy machine slows every row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat

from autograder.course import CONFIG_FILE, Course
from autograder.demo import typical_mistake
from autograder.grading_session import ScratchCourse, fill_solutions

RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent
KINDS = ("correct", "correct", "mistake", "blank")


def build_class(root: Path, assignment: str, students: int) -> tuple[ScratchCourse, list[str]]:
    """A fresh course folder holding the class's submissions."""
    scratch = ScratchCourse(root)
    release, source = scratch.release_notebook(assignment), scratch.source_notebook(assignment)
    mistake = typical_mistake(assignment)
    variants = {"correct": fill_solutions(release, source),
                "mistake": fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]}),
                "blank": release}
    name = scratch.course.notebooks(assignment)[0]
    ids = []
    for i in range(students):
        kind = KINDS[i % len(KINDS)]
        student = f"s{i:03d}-{kind}"
        folder = scratch.course.path("submitted", student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(variants[kind], str(folder / f"{name}.ipynb"))
        ids.append(student)
    return scratch, ids


def _environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def anchor(root: Path, assignment: str) -> tuple[float, float]:
    """Seconds for ``nbgrader autograde`` and ``nbgrader generate_feedback``, whole class, one process each."""
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(CONFIG_FILE)!r})\nc.CourseDirectory.root = {str(root)!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n")
    times = []
    for command in ("autograde", "generate_feedback"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nbgrader", command, assignment, "--force", "--log-level=ERROR"],
                       cwd=root, env=_environment(), check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def course_grade(root: Path, assignment: str, *flags: str) -> tuple[float, str]:
    """Seconds for the real ``course grade`` command, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "course"), "grade", assignment, "--root", str(root), *flags],
                          capture_output=True, text=True, env=_environment())
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise RuntimeError(f"course grade {' '.join(flags)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def floor(course: Course, assignment: str, students: list[str]) -> float:
    """Seconds to execute every submitted notebook once with nbclient, no sandbox, no grading."""
    name = course.notebooks(assignment)[0]
    start = time.perf_counter()
    with _kernels_quiet():
        _execute_each(course, assignment, name, students)
    return time.perf_counter() - start


@contextlib.contextmanager
def _kernels_quiet():
    """The kernels' own warnings (on the inherited stderr) stay off the benchmark's output."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _execute_each(course: Course, assignment: str, name: str, students: list[str]) -> None:
    from nbclient import NotebookClient

    for student in students:
        notebook = nbformat.read(str(course.path("submitted", student, assignment, f"{name}.ipynb")), as_version=4)
        with tempfile.TemporaryDirectory() as scratch:
            NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": scratch}}).execute()


def graded_count(course: Course, assignment: str) -> int:
    with course.gradebook() as gradebook:
        return len(gradebook.find_assignment(assignment).submissions)


# -- where one submission's time goes (instrumented, in this process) ----------

class Stopwatch:
    """Wraps methods to add up the seconds spent in them, by label."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list = []

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        seconds = self.seconds
        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    seconds[label] += time.perf_counter() - start
        else:
            @functools.wraps(original)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    seconds[label] += time.perf_counter() - start
        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


@contextlib.contextmanager
def as_before():
    """Grading as it worked before: a pytest session per notebook, templates compiled per page,
    the source notebooks read for every submission, the kernel asked to shut down and waited for."""
    from autograder import keyrunner, pipeline

    saved = keyrunner._run_directly, pipeline._worker_course, pipeline._source_notebooks

    def cold_course(root, overrides):
        key = ("cold", root, repr(sorted(overrides.items())))
        if key not in pipeline._COURSES:
            pipeline._COURSES[key] = Course(root, **{**overrides, "Execute.shutdown_kernel": "graceful"})
        return pipeline._COURSES[key]

    def read_sources(course, assignment):
        return {name: nbformat.read(str(course.path("source", assignment, f"{name}.ipynb")), as_version=4)
                for name in course.notebooks(assignment)}

    keyrunner._run_directly = lambda *args: None
    pipeline._worker_course, pipeline._source_notebooks = cold_course, read_sources
    try:
        yield
    finally:
        keyrunner._run_directly, pipeline._worker_course, pipeline._source_notebooks = saved


PHASES = ("sandbox set-up", "kernel start", "execution", "kernel shutdown", "judging (answer key)",
          "nbgrader steps + gradebook", "feedback page", "other (preflight, scores)")


def breakdown(root: Path, assignment: str, students: list[str]) -> dict[str, float]:
    """Mean seconds per phase for grading *students* one by one in this process."""
    from nbclient import NotebookClient

    from autograder import pipeline
    from autograder.course import Course as CourseClass
    from autograder.preprocessors.judge import JudgeAnswers
    from autograder.preprocessors.sandbox import SandboxedExecute, SandboxKernelManager

    watch = Stopwatch()
    watch.wrap(SandboxKernelManager, "_async_pre_start_kernel", "pre_start")
    watch.wrap(NotebookClient, "start_new_kernel", "start_kernel")
    watch.wrap(SandboxedExecute, "start_new_kernel_client", "start_client")
    watch.wrap(NotebookClient, "_cleanup_kernel", "cleanup")
    watch.wrap(SandboxedExecute, "preprocess", "execute")
    watch.wrap(JudgeAnswers, "preprocess", "judge")
    watch.wrap(CourseClass, "autograde", "autograde")
    watch.wrap(CourseClass, "generate_feedback", "feedback")
    course = Course(root)
    overrides = pipeline._prepare_gradebook(course, assignment)
    total = 0.0
    try:
        for student in students:
            start = time.perf_counter()
            pipeline.grade_submission(str(root), assignment, student, overrides)
            total += time.perf_counter() - start
    finally:
        watch.restore()
    s, n = watch.seconds, len(students)
    kernel = s["start_kernel"] - s["pre_start"] + s["start_client"]
    phases = {
        "sandbox set-up": s["pre_start"],
        "kernel start": kernel,
        "execution": s["execute"] - kernel - s["pre_start"] - s["cleanup"],
        "kernel shutdown": s["cleanup"],
        "judging (answer key)": s["judge"],
        "nbgrader steps + gradebook": s["autograde"] - s["execute"] - s["judge"],
        "feedback page": s["feedback"],
        "other (preflight, scores)": total - s["autograde"] - s["feedback"],
    }
    return {phase: seconds / n for phase, seconds in phases.items()} | {"total": total / n}


def _measure_breakdowns(assignment: str, count: int) -> tuple[dict, dict]:
    root = Path(tempfile.mkdtemp(prefix="bench-breakdown-"))
    scratch, students = build_class(root, assignment, 2 * count + 1)
    correct = [s for s in students if "correct" in s]
    breakdown(root, assignment, correct[:1])  # warm-up: imports, first templates
    with as_before():
        before = breakdown(root, assignment, students[1:count + 1])
    now = breakdown(root, assignment, students[count + 1:2 * count + 1])
    scratch.cleanup()
    return before, now


def _summary_seconds(output: str) -> float | None:
    match = re.search(r"submission\(s\) in ([\d.]+) s", output)
    return float(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--assignment", default="02-signals")
    parser.add_argument("--breakdown", type=int, default=4, help="submissions per breakdown (before, now)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    load_start = os.getloadavg()
    print(f"class: {args.students} submissions of {args.assignment}; {cores} cores; "
          f"load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}")

    roots = {way: Path(tempfile.mkdtemp(prefix=f"bench-{way}-")) for way in ("anchor", "pool", "dask1", "dask2")}
    classes = {way: build_class(root, args.assignment, args.students) for way, root in roots.items()}
    students = classes["anchor"][1]

    figures: dict[str, float | str] = {}
    autograde_s, feedback_s = anchor(roots["anchor"], args.assignment)
    figures["anchor_seconds"] = autograde_s + feedback_s
    print(f"anchor: nbgrader autograde {autograde_s:.1f} s + nbgrader generate_feedback {feedback_s:.1f} s "
          f"= {figures['anchor_seconds']:.1f} s ({graded_count(classes['anchor'][0].course, args.assignment)} graded)")

    for way, flags, label in (("pool", (), f"course grade, local pool ({cores} workers)"),
                              ("dask1", ("--cluster", "local:1"), "course grade --cluster local:1"),
                              ("dask2", ("--cluster", "local:2"), "course grade --cluster local:2")):
        seconds, output = course_grade(roots[way], args.assignment, *flags)
        figures[f"{way}_seconds"] = seconds
        inside = _summary_seconds(output)
        figures[f"{way}_grading_seconds"] = inside or float("nan")
        print(f"{label}: {seconds:.1f} s (grading as the summary counts it: {inside or float('nan'):.1f} s; "
              f"{graded_count(classes[way][0].course, args.assignment)} graded)")

    bare = floor(classes["pool"][0].course, args.assignment, students)
    figures["floor_seconds"] = bare / cores
    print(f"floor: nbclient, each notebook once, no grading: {bare:.1f} s / {cores} cores = {bare / cores:.1f} s")

    figures["anchor_over_course"] = figures["anchor_seconds"] / figures["pool_seconds"]
    figures["course_over_floor"] = figures["pool_seconds"] / figures["floor_seconds"]
    figures["dask_scaling_2_over_1"] = figures["dask1_seconds"] / figures["dask2_seconds"]
    figures["dask_scaling_grading_only"] = figures["dask1_grading_seconds"] / figures["dask2_grading_seconds"]
    print(f"anchor / course grade: {figures['anchor_over_course']:.2f}×   (goal ≥ 3)")
    print(f"course grade / floor:  {figures['course_over_floor']:.2f}×   (goal ≤ 1.2)")
    print(f"Dask, 2 workers vs 1:  {figures['dask_scaling_2_over_1']:.2f}× the command, "
          f"{figures['dask_scaling_grading_only']:.2f}× its grading (goal ≥ 1.8)")

    before, now = _measure_breakdowns(args.assignment, args.breakdown)
    print(f"\none submission in a worker, mean of {args.breakdown} (seconds): before → now")
    for phase in (*PHASES, "total"):
        print(f"  {phase:<28} {before[phase]:6.2f} → {now[phase]:6.2f}")
        figures[f"before_{phase}"] = before[phase]
        figures[f"now_{phase}"] = now[phase]

    load_end = os.getloadavg()
    figures |= {"students": args.students, "assignment": args.assignment, "cores": cores,
                "load_at_start": round(load_start[0], 2), "load_at_end": round(load_end[0], 2)}
    print(f"load average at the end: {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "grading.csv"
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["measure", "value"])
        for name, value in figures.items():
            writer.writerow([name, round(value, 3) if isinstance(value, float) else value])
    print(f"wrote {out}")
    for scratch, _ in classes.values():
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
