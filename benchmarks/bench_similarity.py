"""Benchmark: ``course similarity`` on a synthetic class, and how well it separates copies.

    .venv/bin/python benchmarks/bench_similarity.py [--students 300]

A class of 02-signals (``tests.similarity_class.large_class``): each
student's six answer cells are honest implementations picked at random, with
comments of their own; every twentieth student copies the one before with
other names and comments. With only five implementations per cell, two honest
students can pick the same ones, so some honest pairs share whole cells (as
students who all follow the book's code do).

It prints the time to read and compare the class (and the fingerprinting and
pair steps apart), the copied pairs' scores, the highest score of a pair with
no copier in it, and how many of the copied pairs rank above every honest
pair that shares less than everything. The load average is printed too: a
busy machine slows every figure. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.grading_session import ScratchCourse  # noqa: E402
from autograder.similarity import compare_class  # noqa: E402
from tests.similarity_class import large_class  # noqa: E402

A = "02-signals"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as folder:
        scratch = ScratchCourse(Path(folder))
        release = scratch.release_notebook(A)
        for student, notebook in large_class(release, args.students).items():
            target = scratch.course.path("submitted", student, A)
            target.mkdir(parents=True)
            nbformat.write(notebook, str(target / "signals.ipynb"))
        import copydetect  # noqa: F401  (its import, matplotlib's included, is not the comparison's time)

        start = time.perf_counter()
        result = compare_class(scratch.course, A)
        total = time.perf_counter() - start
    copiers = {f"s{n:03d}" for n in range(19, args.students, 20)}
    copied = [p for p in result.pairs if {p.a, p.b} in [{c, f"s{int(c[1:]) - 1:03d}"} for c in copiers]]
    honest = [p for p in result.pairs if not ({p.a, p.b} & copiers)]
    identical_honest = sum(p.score >= 0.999 for p in honest)
    below = max((p.score for p in honest if p.score < 0.999), default=0.0)
    print(f"students: {args.students}, pairs: {result.compared_pairs}, pairs sharing anything: {len(result.pairs)}")
    print(f"read + compare: {total:.1f} s (fingerprints and pairs: {result.seconds:.1f} s); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"copied pairs: {len(copied)}, scores {min(p.score for p in copied):.2f}–{max(p.score for p in copied):.2f}")
    print(f"honest pairs: highest {max(p.score for p in honest):.2f}; {identical_honest} picked the very same "
          f"implementations for all six cells; highest of the others {below:.2f}")


if __name__ == "__main__":
    main()
