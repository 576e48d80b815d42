"""How soon `course serve` hands back feedback, against the notebook's own run time.

A scratch course with an nbgrader exchange in a temporary folder, every
assignment released, and a running `course serve` (a subprocess, warmed up
by one submission first). Then:

1. *Idle service*: one solved submission of each assignment at a time
   (several times, each by a new student); seconds from `nbgrader submit`
   to the feedback file that `fetch_feedback` looks for, against the seconds
   the same notebook takes to execute in the sandbox on its own
   (``SandboxedExecute``, no grading). Goal: within 5 s of that.
2. *Burst*: 40 students submit 02-signals at once; seconds until the last
   feedback is out, and submissions graded per minute.

    .venv/bin/python benchmarks/bench_serve.py [--repeats 3] [--assignments 02-signals ...] [--burst 40]

Prints both tables and writes benchmarks/results/serve.csv.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import submit as nbgrader_submit
from nbgrader.utils import notebook_hash

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from autograder.grading_session import ScratchCourse, fill_solutions  # noqa: E402
from autograder.preprocessors.sandbox import SandboxedExecute  # noqa: E402

RESULTS = REPOSITORY / "benchmarks" / "results"
SETTINGS = {"InstantFeedback.max_gradings_per_hour": 1000, "InstantFeedback.poll_seconds": 0.2,
            "CourseIntake.owner_check": "off"}   # every benchmark student is this process's user


class Bench:
    def __init__(self, tmp: Path, assignments: list[str]):
        self.exchange = tmp / "exchange"
        self.exchange.mkdir()
        self.homes = tmp / "homes"
        self.scratch = ScratchCourse(tmp / "course", **{"Exchange.root": str(self.exchange), **SETTINGS,
                                                        "InstantFeedback.assignments": assignments})
        self.course = self.scratch.course
        self.solved: dict[str, nbformat.NotebookNode] = {}
        for assignment in assignments:
            release = self.scratch.release_notebook(assignment)
            self.solved[assignment] = fill_solutions(release, self.scratch.source_notebook(assignment))
            result = self.course.api.release_assignment(assignment)
            assert result["success"], result.get("log")

    def submit(self, student: str, assignment: str) -> Path:
        """`nbgrader submit` as *student*; returns the feedback file fetch_feedback will look for."""
        name = self.course.notebooks(assignment)[0]
        folder = self.homes / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.solved[assignment], str(folder / f"{name}.ipynb"))
        config = copy.deepcopy(self.course.config)
        config.Exchange.root = str(self.exchange)
        config.Exchange.cache = str(self.homes / student / ".cache")
        config.CourseDirectory.root = str(self.homes / student)
        config.CourseDirectory.assignment_id = assignment
        app = nbgrader_submit.ExchangeSubmit(coursedir=CourseDirectory(config=config),
                                             authenticator=Authenticator(config=config), config=config)
        app.coursedir.assignment_id = assignment
        app.assignment_dir = str(self.homes / student)
        nbgrader_submit.get_username = lambda: student
        app.start()
        cache = next((self.homes / student / ".cache" / config.CourseDirectory.course_id).glob(f"{student}+{assignment}+*"))
        secret = (cache / "submission_secret.txt").read_text()
        course_id = self.course.config.CourseDirectory.course_id
        return self.exchange / course_id / "feedback" / f"{notebook_hash(secret=secret, notebook_id=name)}.html"

    def serve(self, log: Path) -> subprocess.Popen:
        settings = {**SETTINGS, "InstantFeedback.assignments": list(self.solved)}
        command = [sys.executable, "-m", "autograder", "serve", "--root", str(self.course.root),
                   "--exchange", str(self.exchange)]
        for key, value in settings.items():
            command += ["--set", f"{key}={value!r}"]
        return subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=REPOSITORY)

    def execute_seconds(self, assignment: str) -> float:
        """The notebook alone, executed in the sandbox (no grading, no feedback)."""
        notebook = copy.deepcopy(self.solved[assignment])
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            SandboxedExecute(config=self.course.config).preprocess(notebook, {"metadata": {"path": scratch}})
            return time.perf_counter() - start


def wait_for(paths: list[Path], timeout: float) -> list[float]:
    """Seconds (from now) until each path exists."""
    start, found = time.perf_counter(), {}
    while len(found) < len(paths) and time.perf_counter() - start < timeout:
        for path in paths:
            if path not in found and path.exists():
                found[path] = time.perf_counter() - start
        time.sleep(0.05)
    missing = [p for p in paths if p not in found]
    if missing:
        raise SystemExit(f"error: {len(missing)} feedback file(s) never appeared; see the service log")
    return [found[p] for p in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assignments", nargs="*", default=None)
    parser.add_argument("--burst", type=int, default=40)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    assignments = args.assignments or sorted(p.name for p in (REPOSITORY / "source").iterdir()
                                             if p.is_dir() and any(p.glob("*.ipynb")))
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        bench = Bench(Path(tmp), assignments)
        log = Path(tmp) / "serve.log"
        service = bench.serve(log)
        rows = []
        try:
            wait_for([bench.submit("warm-up", "02-signals" if "02-signals" in assignments else assignments[0])], 600)
            print(f"{'assignment':<28}{'execute s':>10}{'feedback s':>12}{'overhead s':>12}{'ratio':>8}")
            for assignment in assignments:
                execute, feedback = [], []
                for repeat in range(args.repeats):
                    execute.append(bench.execute_seconds(assignment))
                    start = time.perf_counter()
                    target = bench.submit(f"idle-{assignment}-{repeat}", assignment)
                    wait_for([target], 900)
                    feedback.append(time.perf_counter() - start)   # from pressing submit to feedback out
                e, f = statistics.median(execute), statistics.median(feedback)
                rows.append({"case": "idle", "assignment": assignment, "submissions": args.repeats,
                             "execute_s": round(e, 2), "feedback_s": round(f, 2), "overhead_s": round(f - e, 2),
                             "ratio": round(f / e, 2), "per_minute": ""})
                print(f"{assignment:<28}{e:>10.1f}{f:>12.1f}{f - e:>12.1f}{f / e:>8.2f}")

            burst = "02-signals" if "02-signals" in assignments else assignments[0]
            start = time.perf_counter()
            targets = [bench.submit(f"burst-{i:02d}", burst) for i in range(args.burst)]
            submitted = time.perf_counter() - start
            last = max(wait_for(targets, 3600)) + submitted
            per_minute = args.burst / last * 60
            one = next(r for r in rows if r["assignment"] == burst)
            rows.append({"case": "burst", "assignment": burst, "submissions": args.burst,
                         "execute_s": one["execute_s"], "feedback_s": round(last, 2),
                         "overhead_s": "", "ratio": round(last / one["execute_s"], 2),
                         "per_minute": round(per_minute, 1)})
            print(f"\nburst: {args.burst} submissions of {burst} (arriving over {submitted:.1f} s): last feedback "
                  f"{last:.1f} s after the first submit; {per_minute:.1f} submissions per minute; "
                  f"{last / one['execute_s']:.1f}× one notebook's execution")
        finally:
            service.terminate()
            try:
                service.wait(300)
            except subprocess.TimeoutExpired:
                service.kill()
        print(f"\nmachine: {os.cpu_count()} cores, load average {load:.1f} at the start "
              f"({os.getloadavg()[0]:.1f} at the end); shared machine: figures are upper bounds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "serve.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) + ["cores", "load_average"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "cores": os.cpu_count(), "load_average": round(load, 1)})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
