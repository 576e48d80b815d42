"""`course demo`, the README's main job, end to end through the real CLI."""

from __future__ import annotations

import csv
import subprocess
import sys

from autograder.course import Course, REPOSITORY

import pytest

pytestmark = [pytest.mark.sandbox]


def test_course_demo_grades_the_demo_class(tmp_path):
    directory = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "autograder", "demo", "--no-generate", "--directory", str(directory)],
                         capture_output=True, text=True, timeout=900, cwd=REPOSITORY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assignments = Course(REPOSITORY).assignments()
    table = run.stdout.split("== Scores")[1]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:6]}
    assert set(rows) == {"ada", "ben", "cleo"}
    for index, _ in enumerate(assignments):
        earned, possible = rows["ada"][index].split("/")
        assert earned == possible != "0"                  # the solutions earn every autograded point
        assert rows["ben"][index].startswith("0/")        # the untouched release earns none
        cleo, out_of = rows["cleo"][index].split("/")
        assert 0 < float(cleo) < float(out_of)            # the typical mistake costs some, not all
    with open(directory / "grades.csv") as handle:
        grades = list(csv.DictReader(handle))
    assert len(grades) == 3 * len(assignments)
    for student in ("ada", "ben", "cleo"):
        for assignment in assignments:
            assert list((directory / "feedback" / student / assignment).glob("*.html"))
