"""``course demo``: the whole course pipeline on a small demo class.

1. The instructor step: generate the release and the executed solutions from
   ``source/``, inside a demo course (``demo/`` by default).
2. Three students per assignment:
   *ada* submits the solutions, *ben* the untouched release, and *cleo* the
   solutions with the assignment's typical mistake (from its answer key).
3. The TA step: autograde the class, write feedback, export the grades CSV,
   build each assignment's report of what the class got wrong
   (``demo/reports/<assignment>/index.html``), and print a table of scores.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat

from autograder import consistency
from autograder.course import REPOSITORY, Course
from autograder.grading_session import fill_solutions
from autograder.preprocessors.judge import autograded_ids, graded_ids
from autograder.keyrunner import key_file
from autograder.apps.report import write_report
from autograder.pipeline import grade_class
from autograder.reports import Progress

STUDENTS = {
    "ada": "submits the solutions",
    "ben": "submits the untouched release",
    "cleo": "makes the assignment's typical mistake",
}


def typical_mistake(assignment: str) -> dict:
    return consistency.typical_mistake(key_file(assignment))


def build_class(demo: Course, assignment: str) -> None:
    """Write the three demo submissions into ``demo/submitted/``."""
    for notebook in demo.notebooks(assignment):
        release = nbformat.read(str(demo.path("release", assignment, f"{notebook}.ipynb")), as_version=4)
        source = nbformat.read(str(demo.path("source", assignment, f"{notebook}.ipynb")), as_version=4)
        mistake = typical_mistake(assignment)
        wrong = fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]})
        for student in STUDENTS:
            demo.path("submitted", student, assignment).mkdir(parents=True, exist_ok=True)
        nbformat.write(fill_solutions(release, source), str(demo.path("submitted", "ada", assignment, f"{notebook}.ipynb")))
        nbformat.write(release, str(demo.path("submitted", "ben", assignment, f"{notebook}.ipynb")))
        nbformat.write(wrong, str(demo.path("submitted", "cleo", assignment, f"{notebook}.ipynb")))


def manual_cells(demo: Course, assignment: str) -> set[str]:
    """Grade ids of the written answers a TA grades by hand in formgrader."""
    return {grade_id for notebook in demo.notebooks(assignment)
            for source in [nbformat.read(str(demo.path("source", assignment, f"{notebook}.ipynb")), as_version=4)]
            for grade_id in graded_ids(source) - autograded_ids(source)}


def score_table(demo: Course, assignments: list[str]) -> str:
    """Autograded points per student and assignment; written answers wait for a TA."""
    header = ["student"] + assignments + ["total"]
    rows, waiting = [], {}
    for student in STUDENTS:
        cells, earned, possible = [student], 0.0, 0.0
        for assignment in assignments:
            manual = manual_cells(demo, assignment)
            grades = demo.cell_scores(assignment, student) if demo.score(assignment, student) else {}
            auto = {cell: value for cell, value in grades.items() if cell not in manual}
            got, out_of = sum(score or 0 for score, _ in auto.values()), sum(points for _, points in auto.values())
            waiting[assignment] = sum(points for cell, (_, points) in grades.items() if cell in manual)
            cells.append(f"{got:g}/{out_of:g}" if grades else "—")
            earned, possible = earned + got, possible + out_of
        cells.append(f"{earned:g}/{possible:g}")
        rows.append(cells)
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    line = lambda row: "  ".join(value.ljust(width) for value, width in zip(row, widths))
    pending = ", ".join(f"{a} {p:g}" for a, p in waiting.items() if p)
    notes = [f"(autograded points; written answers wait for a TA in formgrader: {pending} points)"] if pending else []
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(row) for row in rows] + notes)


def run_demo(directory: Path, regenerate: bool = True) -> int:
    """Build the demo course in *directory* and grade it; 0 when the solutions earn full marks.

    The demo course shares the repository's ``source/`` and generates its own
    ``release/`` and ``solutions/``, so running the demo never rewrites the
    committed ones (``course generate`` is the instructor's command for that).
    """
    start = time.perf_counter()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / "source").symlink_to(REPOSITORY / "source", target_is_directory=True)
    demo = Course(directory)
    assignments = demo.assignments()

    print(f"== Instructor: generate release/ and solutions/ from source/ (in {directory})")
    for assignment in assignments:
        t = time.perf_counter()
        demo.generate_release(assignment)
        if regenerate:
            demo.generate_solution(assignment)
        print(f"   {assignment}: {time.perf_counter() - t:.1f} s")

    print("== Students")
    for student, what in STUDENTS.items():
        print(f"   {student}: {what}")

    print("== TA: autograde, feedback, grades")
    reports = []
    for assignment in assignments:
        build_class(demo, assignment)
        report = grade_class(demo, assignment, progress=Progress(assignment))
        reports.append(report)
        print(report.table())
        print(f"{'report:':<12}{write_report(demo, assignment)}")
        print()
    grades = demo.export_grades(directory / "grades.csv")
    print("== Scores")
    print(score_table(demo, assignments))
    print(f"\ngrades CSV: {grades}\nfeedback:   {demo.path('feedback')}\n"
          f"done in {time.perf_counter() - start:.0f} s")
    problems = [r for report in reports for r in report.failed if r.student == "ada"]
    return 1 if problems else 0
