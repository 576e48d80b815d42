"""``course similarity``: copied answers rank first, the skeleton counts for nothing, the page is inert.

The classes come from :mod:`tests.similarity_class`: honest students who each
wrote their own answers, a copier who renamed variables and rewrote comments,
blank submissions of the untouched release, and hostile ones.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import subprocess

import nbformat
import pytest

from autograder.apps.similarity import render_html, run
from autograder.course import REPOSITORY
from autograder.grading_session import ScratchCourse
from autograder.similarity import assemble, answer_cells, compare_class, read_answers
from tests.browser import chromium
from tests.similarity_class import HONEST, answered, disguise, small_class, written_class

CODE, WRITTEN = "02-signals", "03-backprop-errors"
# Each test builds and compares a class of notebooks.
pytestmark = [pytest.mark.slow]


ARTEFACTS = REPOSITORY / "benchmarks" / "results"
#: What a hostile student writes into an answer, hoping the page runs or loads it.
HOSTILE = ("x = 1  # </pre><script>document.title = 'pwned'</script>"
           "<img src='http://127.0.0.1:9/leak.png' onerror=\"document.title='pwned'\">\n"
           "s = '<iframe src=\"https://example.com/\"></iframe><link rel=stylesheet href=http://127.0.0.1:9/x.css>'\n"
           "return rng.normal(0.0, n_in ** -0.5, size=(n_out, n_in)) + 0 * x * len(s)")


def write_class(scratch: ScratchCourse, assignment: str, notebooks: dict) -> None:
    name = scratch.course.notebooks(assignment)[0]
    for student, notebook in notebooks.items():
        folder = scratch.course.path("submitted", student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(folder / f"{name}.ipynb"))


@pytest.fixture(scope="module")
def code_class(tmp_path_factory):
    """02-signals: five honest students, a copier, two blanks, a link and a FIFO."""
    scratch = ScratchCourse(tmp_path_factory.mktemp("similarity"))
    write_class(scratch, CODE, small_class(scratch.release_notebook(CODE)))
    folder = scratch.course.path("submitted", "h-link", CODE)   # a link to another student's notebook
    folder.mkdir(parents=True)
    os.symlink(scratch.course.path("submitted", "ada", CODE, "signals.ipynb"), folder / "signals.ipynb")
    folder = scratch.course.path("submitted", "h-fifo", CODE)   # would block a reader that waits
    folder.mkdir(parents=True)
    os.mkfifo(folder / "signals.ipynb")
    return scratch, compare_class(scratch.course, CODE)


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """The small class plus a student whose answer is markup meant to run or load, and a copier of theirs."""
    scratch = ScratchCourse(tmp_path_factory.mktemp("similarity-hostile"))
    release = scratch.release_notebook(CODE)
    notebooks = small_class(release)
    hostile = {cell: variants[2] for cell, variants in HONEST.items()}
    hostile["init_weights_impl"] = HOSTILE
    notebooks["h-markup"] = answered(release, hostile)
    notebooks["h-markup-copy"] = answered(release, {cell: disguise(code) for cell, code in hostile.items()})
    write_class(scratch, CODE, notebooks)
    return scratch, compare_class(scratch.course, CODE)


def pair_of(result, a, b):
    return next((p for p in result.pairs if {p.a, p.b} == {a, b}), None)


def honest_students(result):
    return {s.student for s in result.students if not s.student.startswith(("zed", "blank", "h-"))}


def test_the_copied_pair_ranks_first_well_above_every_honest_pair(code_class):
    _, result = code_class
    top = result.pairs[0]
    assert {top.a, top.b} == {"ada", "zed-copier"}
    assert top.code == (pytest.approx(1.0), pytest.approx(1.0))   # renamed and recommented: the same code
    honest = honest_students(result)
    best_honest = max((p.score for p in result.pairs if {p.a, p.b} <= honest), default=0.0)
    assert top.score >= 0.9 and best_honest <= 0.3 and top.score >= 3 * best_honest, best_honest


def test_the_untouched_release_scores_nothing_between_two_blank_submissions(code_class):
    _, result = code_class
    assert pair_of(result, "blank-1", "blank-2") is None
    assert all("blank-1" not in (p.a, p.b) for p in result.pairs)   # the skeleton is shared with nobody


def test_links_and_fifos_are_not_followed_and_are_listed_with_a_reason(code_class):
    _, result = code_class
    assert "a link" in result.unreadable["h-link"]
    assert "FIFO" in result.unreadable["h-fifo"]
    assert all(s not in (p.a, p.b) for p in result.pairs for s in ("h-link", "h-fifo"))


def test_written_answers_are_compared_too(tmp_path):
    scratch = ScratchCourse(tmp_path)
    write_class(scratch, WRITTEN, written_class(scratch.release_notebook(WRITTEN)))
    result = compare_class(scratch.course, WRITTEN)
    top = result.pairs[0]
    assert {top.a, top.b} == {"fay", "yan-copier"} and top.text_score > 0.4
    assert top.code == (0.0, 0.0)   # the code was left as released: nothing shared
    honest = {"fay", "gus", "hal", "ivy"}
    assert max((p.score for p in result.pairs if {p.a, p.b} <= honest), default=0.0) < top.score / 3


def test_the_page_escapes_what_students_wrote_and_the_csv_ranks_every_pair(hostile_class, tmp_path):
    scratch, _ = hostile_class
    lines = []
    assert run(root=scratch.course.root, assignment=CODE, out_dir=tmp_path, out=lines.append) == 0
    page = (tmp_path / "similarity.html").read_text()
    assert "<script" not in page and "<iframe" not in page and "<img" not in page and "<link" not in page
    assert "&lt;/pre&gt;&lt;script&gt;" in page and "<mark>" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    with open(tmp_path / "similarity.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {rows[0]["student_a"], rows[0]["student_b"]} in ({"ada", "zed-copier"}, {"h-markup", "h-markup-copy"})
    assert [float(r["score"]) for r in rows] == sorted((float(r["score"]) for r in rows), reverse=True)
    assert any("ada and zed-copier" in line or "zed-copier" in line for line in lines[:3])


def test_the_page_opens_in_chromium_with_no_script_and_no_request_beyond_the_file(hostile_class, tmp_path):
    scratch, result = hostile_class
    page_path = tmp_path / "similarity.html"
    page_path.write_text(render_html(result, top=30))
    errors, requests = [], []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        title = page.title()
        scripts = page.evaluate("document.querySelectorAll('script, iframe, img, link').length")
        marks = page.locator("mark").count()
        shown = page.locator("pre").all_inner_texts()
        shot = tmp_path / "similarity.png"
        page.screenshot(path=str(shot), full_page=False)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTEFACTS / "similarity-02-signals.png")
    assert errors == [] and title == "Similar submissions: 02-signals"
    assert scripts == 0 and marks > 0
    assert any("<script>document.title = 'pwned'</script>" in text for text in shown)   # shown as text
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []


def test_any_bytes_in_a_notebook_cost_only_that_student(tmp_path):
    """Hypothesis: whatever a student's file holds, reading it gives answers or a reason, never an error."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    scratch = ScratchCourse(tmp_path / "course")
    release = {"signals": scratch.release_notebook(CODE)}
    cells = answer_cells(release)
    folder = tmp_path / "sub"
    folder.mkdir()
    grade_id = st.one_of(st.sampled_from([g for g, _, _ in cells]), st.integers(), st.none())
    nbgrader = st.one_of(st.text(max_size=5), st.fixed_dictionaries({"grade_id": grade_id}))
    metadata = st.one_of(st.none(), st.fixed_dictionaries({"nbgrader": nbgrader}))
    source = st.one_of(st.text(), st.lists(st.one_of(st.text(), st.integers())), st.none())
    cell = st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", 3]), "metadata": metadata,
                                  "source": source})
    contents = st.one_of(st.binary(max_size=300),
                         st.builds(lambda cs: json.dumps({"cells": cs}).encode(), st.lists(cell, max_size=6)),
                         st.builds(lambda v: json.dumps(v).encode(), st.recursive(
                             st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                             max_leaves=20)))

    @hypothesis.settings(max_examples=150, deadline=None)
    @hypothesis.given(contents)
    def reads(raw):
        (folder / "signals.ipynb").write_bytes(raw)
        answers = read_answers(folder, "fuzz", ["signals"], cells, 2**20)
        assert answers.problem is None or answers.problem
        assert isinstance(answers.code, str) and isinstance(answers.text, str)

    reads()
    blank = assemble("x", {}, cells)
    assert blank.code.count("# ----") == sum(kind == "code" for _, kind, _ in cells)


def test_the_command_says_what_to_do_without_submissions(tmp_path):
    scratch = ScratchCourse(tmp_path)
    scratch.release(CODE)
    done = subprocess.run([sys.executable, "-m", "autograder", "similarity", CODE, "--root", str(scratch.root)],
                          capture_output=True, text=True, cwd=REPOSITORY)
    assert done.returncode == 2 and done.stderr.startswith("error: fewer than two submissions")
    assert "Traceback" not in done.stderr
