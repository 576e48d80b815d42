"""``course report``: what the class got wrong, counted from the keys' verdicts.

A class of 02-signals is graded by the real pipeline (sandboxed kernels, the
answer key, nbgrader's gradebook): two students make the typical mistake of
the three-layer example (the weights used transposed), three leave out the
hidden layer's sigmoid in ``query``, two are right, one hands in the
untouched release and one a file that is not a notebook. The report's counts
must equal the mistakes made, cell by cell; its CSVs must equal the
gradebook; a real Chromium must show every plot with no console error; and
``--anonymous`` must leave no student identifier in the page or its CSVs.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder.apps.report import write_report
from autograder.consistency import typical_mistake
from autograder.course import REPOSITORY
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.insight import class_results
from autograder.preprocessors.judge import autograded_ids
from autograder.keyrunner import key_file
from autograder.pipeline import grade_class
from tests.browser import chromium

pytestmark = [pytest.mark.sandbox]

ASSIGNMENT = "02-signals"
QUERY_WITHOUT_HIDDEN_SIGMOID = (
    "def query(W_ih, W_ho, inputs):\n"
    "    return sigmoid(W_ho @ (W_ih @ inputs))   # the hidden layer's sigmoid is missing\n"
)
# Identifiers that cannot occur by chance in a page's words or markup.
RIGHT = ["amelia-k7", "bruno-t3"]
TRANSPOSED = ["carla-w2", "dmitri-p9"]
NO_HIDDEN_SIGMOID = ["elena-r4", "farid-s8", "greta-m5"]
BLANK = "hiroshi-n6"
BROKEN = "ingrid-v1"
EVERYONE = RIGHT + TRANSPOSED + NO_HIDDEN_SIGMOID + [BLANK, BROKEN]
ARTEFACTS = REPOSITORY / "benchmarks" / "results"


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    scratch = ScratchCourse(tmp_path_factory.mktemp("report-course"))
    course = scratch.course
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    mistake = typical_mistake(key_file(ASSIGNMENT))
    notebooks = {student: fill_solutions(release, source) for student in RIGHT}
    notebooks |= {s: fill_solutions(release, source, {mistake["cell"]: mistake["source"]}) for s in TRANSPOSED}
    notebooks |= {s: fill_solutions(release, source, {"query_impl": QUERY_WITHOUT_HIDDEN_SIGMOID})
                  for s in NO_HIDDEN_SIGMOID}
    notebooks[BLANK] = release
    name = course.notebooks(ASSIGNMENT)[0]
    for student, notebook in notebooks.items():
        folder = course.path("submitted", student, ASSIGNMENT)
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / f"{name}.ipynb"))
    broken = course.path("submitted", BROKEN, ASSIGNMENT)
    broken.mkdir(parents=True)
    (broken / f"{name}.ipynb").write_text('{"cells": [')
    report = grade_class(course, ASSIGNMENT, workers=2)
    assert {r.student for r in report.results} == set(EVERYONE)
    yield scratch, mistake
    scratch.cleanup()


def test_counts_equal_the_mistakes_made(graded_class):
    scratch, mistake = graded_class
    results = class_results(scratch.course, ASSIGNMENT)
    lost = set(mistake["loses"])
    assert lost == {"three_layer"}, "the test's class was built for 02's typical mistake"
    three_layer = results.mistakes["three_layer"]
    assert three_layer[0].students == sorted(TRANSPOSED)
    assert "transposed" in three_layer[0].mistake
    assert all(m.count <= len(TRANSPOSED) for m in three_layer)
    query = results.mistakes["query"]
    assert query[0].students == sorted(NO_HIDDEN_SIGMOID)
    assert "sigmoid" in query[0].mistake
    assert "sigmoid is missing" in query[0].message
    assert set(results.mistakes) == {"three_layer", "query"}, results.mistakes
    # The untouched release records nothing in any autograded cell; the broken file is not graded at all.
    auto = autograded_ids(scratch.source_notebook(ASSIGNMENT))
    assert results.unanswered == {cell: 1 for cell in auto}
    assert set(results.failures) == {BROKEN} and "not JSON" in results.failures[BROKEN]
    assert set(results.scores) == set(EVERYONE) - {BROKEN}


def test_credit_and_csvs_equal_the_gradebook(graded_class, tmp_path):
    scratch, _ = graded_class
    course = scratch.course
    page = write_report(course, ASSIGNMENT, tmp_path)
    assert page == tmp_path / "index.html" and page.exists()
    graded = sorted(set(EVERYONE) - {BROKEN})
    with open(tmp_path / "scores.csv") as handle:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert scores == {s: course.score(ASSIGNMENT, s).score for s in graded}
    assert scores[RIGHT[0]] == course.score(ASSIGNMENT, RIGHT[0]).max_score > 0
    per_student = {s: course.cell_scores(ASSIGNMENT, s) for s in graded}
    with open(tmp_path / "cells.csv") as handle:
        rows = {row["cell"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(next(iter(per_student.values())))
    for cell, row in rows.items():
        marks = [per_student[s][cell] for s in graded]
        assert int(row["full"]) == sum(1 for score, top in marks if score == top)
        assert int(row["none"]) == sum(1 for score, _ in marks if score == 0)
        assert int(row["partial"]) == len(marks) - int(row["full"]) - int(row["none"])
    assert int(rows["three_layer"]["full"]) == len(RIGHT) + len(NO_HIDDEN_SIGMOID)
    assert int(rows["query"]["none"]) == len(NO_HIDDEN_SIGMOID) + 1
    with open(tmp_path / "mistakes.csv") as handle:
        mistakes = list(csv.DictReader(handle))
    # The typical mistake transposes both weight matrices: two named mistakes of three_layer (W_ih and
    # W_ho), each made by both students.
    assert sorted((m["cell"], int(m["students"])) for m in mistakes if int(m["students"]) > 1) == [
        ("query", 3), ("three_layer", 2), ("three_layer", 2)]
    with open(tmp_path / "failures.csv") as handle:
        assert [row["student"] for row in csv.DictReader(handle)] == [BROKEN]


def test_anonymous_report_names_nobody(graded_class, tmp_path):
    scratch, _ = graded_class
    page = write_report(scratch.course, ASSIGNMENT, tmp_path, anonymous=True)
    named = write_report(scratch.course, ASSIGNMENT, tmp_path / "named")
    assert all(student in named.read_text() for student in TRANSPOSED + [BROKEN]), "the named page lists students"
    for path in [page, *tmp_path.glob("*.csv")]:
        text = path.read_text().lower()
        leaked = [student for student in EVERYONE if student in text]
        assert not leaked, f"{path.name} names {leaked}"
    assert "not JSON" in page.read_text(), "the reason a submission failed stays, without the student"


def test_report_in_chromium(graded_class, tmp_path):
    scratch, _ = graded_class
    page_path = write_report(scratch.course, ASSIGNMENT, tmp_path)
    errors, requests = [], []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        headings = page.locator("h2").all_inner_texts()
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTEFACTS / f"report-{ASSIGNMENT}.png")
    assert errors == []
    assert len(images) == 3, images  # scores, credit per cell, named mistakes
    assert all(complete and width > 100 for _, complete, width in images), images
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert headings[:3] == ["Total scores", "Credit per graded cell", "Named mistakes"]


def test_cli_report_and_one_line_errors(graded_class, tmp_path):
    scratch, _ = graded_class
    root = str(scratch.course.root)
    done = subprocess.run([sys.executable, "-m", "autograder", "report", ASSIGNMENT, "--root", root,
                           "--out", str(tmp_path / "out"), "--anonymous"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "index.html").exists() and "wrote" in done.stdout
    for wrong in (["report", "02-signnals", "--root", root], ["report", "03-backprop-errors", "--root", root]):
        done = subprocess.run([sys.executable, "-m", "autograder", *wrong], capture_output=True, text=True)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error: ")
    assert not (scratch.course.root / "reports" / "02-signnals").exists()
