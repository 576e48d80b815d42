"""The feedback a student receives: no hidden test code, honest scores, a page for every submission.

One class of 03 (tests/hostile/views.py) is graded by the real pipeline: an
honest student, one whose IPython hook prints every cell's source (and its
base64, zlib, reversed and hex forms) as it runs, one with partial credit, and
a file that is not a notebook. The tests read the feedback pages, the
autograded notebooks, the gradebook and the grades CSV.
"""

from __future__ import annotations

import base64
import csv
import re
import zlib
from html.parser import HTMLParser

import nbformat
import pytest

from autograder.preprocessors.feedback import hidden_lines, normalise
from autograder.preprocessors.rubric import is_rubric, mark_scheme
from tests.hostile.views import ASSIGNMENT, graded_views_class
from tests.conftest import needs_sandbox

pytestmark = [pytest.mark.sandbox, needs_sandbox]
MIN_CHARS = 8   # RedactHiddenTests.min_chars


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.parts.append(data)


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.found += [(name.lower(), value) for name, value in attrs]


def page_text(html: str, sep: str = "") -> str:
    """What a reader sees: the text of the page, tags removed (pygments' spans included)."""
    parser = _Text()
    parser.feed(html)
    return normalise(sep.join(parser.parts))


def script_tags(html: str) -> int:
    parser = _Text()
    parser.feed(html)
    return parser.scripts


@pytest.fixture(scope="module")
def graded():
    return graded_views_class()


def feedback(scratch, student: str) -> str:
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    return scratch.course.path("feedback", student, ASSIGNMENT, f"{name}.html").read_text()


def autograded(scratch, student: str) -> nbformat.NotebookNode:
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    return nbformat.read(str(scratch.course.path("autograded", student, ASSIGNMENT, f"{name}.ipynb")), as_version=4)


def source_hidden_lines(scratch) -> set[str]:
    lines: set[str] = set()
    for cell in scratch.source_notebook(ASSIGNMENT).cells:
        lines |= hidden_lines(cell.source, MIN_CHARS)
    return lines


def all_output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", "")))
    return normalise("\n".join(parts))


def test_a_hook_printing_every_cell_leaks_no_hidden_line_into_feedback(graded):
    scratch, _ = graded
    hidden = source_hidden_lines(scratch)
    assert len(hidden) > 20
    printed = all_output_text(autograded(scratch, "mallory"))
    leaked_to_kernel = {line for line in hidden if line in printed}
    assert len(leaked_to_kernel) > 20, "the hook must have printed the hidden tests (else this test proves nothing)"

    page = feedback(scratch, "mallory")
    text = page_text(page)
    assert [line for line in hidden if line in text] == []
    assert [line for line in hidden if line[::-1] in text] == []
    assert "a line of hidden test code was removed" in text
    # nor in the encodings the hook printed, for any graded cell's full source as it ran
    for cell in autograded(scratch, "mallory").cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            raw = cell.source.encode()
            for encoded in (base64.b64encode(raw).decode(), base64.b64encode(zlib.compress(raw)).decode(), raw.hex()):
                assert encoded[:40] not in page
    # the student's own output is still there
    assert "mallory's plot" in text or "mallory" in text


def test_honest_feedback_has_no_hidden_line(graded):
    scratch, _ = graded
    text = page_text(feedback(scratch, "ada"))
    assert [line for line in source_hidden_lines(scratch) if line in text] == []


def test_written_answers_say_they_await_a_ta_until_one_grades_them(graded):
    scratch, _ = graded
    course = scratch.course
    text = page_text(feedback(scratch, "cleo"))
    assert "5.0 point(s) are still awaiting grading by a TA: normalisation_answer, derivation_answer" in text
    assert "Written response: derivation_answer (awaiting grading (out of 3.0))" in text
    assert "Written response: normalisation_answer (awaiting grading (out of 2.0))" in text
    assert "Student's answer: derivation_answer awaiting grading (out of 3.0)" in page_text(feedback(scratch, "cleo"), " ")
    assert not re.search(r"(derivation|normalisation)_answer \(?Score: 0\.0", text)

    name = course.notebooks(ASSIGNMENT)[0]
    with course.gradebook() as gradebook:   # a TA grades one of the two in formgrader
        grade = gradebook.find_grade("derivation_answer", name, ASSIGNMENT, "cleo")
        grade.manual_score = 2.0
        grade.needs_manual_grade = False   # as formgrader's grade API does
        gradebook.db.commit()
    assert course.generate_feedback(ASSIGNMENT, "cleo")["success"]
    text = page_text(feedback(scratch, "cleo"))
    assert "Written response: derivation_answer (Score: 2.0 / 3.0)" in text
    assert "Written response: normalisation_answer (awaiting grading (out of 2.0))" in text
    assert "2.0 point(s) are still awaiting grading by a TA: normalisation_answer." in text


def test_untouched_written_answers_score_zero_without_waiting_for_a_ta(graded):
    # nbgrader compares each answer with its release checksum before the content is sanitised
    scratch, _ = graded
    text = page_text(feedback(scratch, "ben"))
    assert "Written response: derivation_answer (Score: 0.0 / 3.0)" in text
    assert "awaiting grading" not in text


def test_partial_credit_shows_the_judges_words_and_no_stray_out(graded):
    scratch, _ = graded
    cells = scratch.course.cell_scores(ASSIGNMENT, "cleo")
    score, points = cells["update_by_hand"]
    assert 0 < score < points
    kept = [o for c in autograded(scratch, "cleo").cells
            if c.metadata.get("nbgrader", {}).get("grade_id") == "update_by_hand"
            for o in c.outputs if o.output_type == "execute_result"]
    assert kept, "nbgrader reads partial credit from the execute_result in the autograded notebook"
    page = feedback(scratch, "cleo")
    assert "Partly right: 2.25 of 3 points." in page_text(page)
    assert "this is what you get when the slope is added instead of subtracted" in page_text(page)
    assert "Out[" not in page and "output_execute_result" not in page


def test_test_cells_have_readable_names(graded):
    scratch, _ = graded
    text = page_text(feedback(scratch, "ada"))
    for label in ("Test cell: splitting errors", "Test cell: errors back through W^T",
                  "Test cell: one weight update", "Test cell: dE_dw_output"):
        assert label in text
    assert not re.search(r"Test cell \(Score", text)


def test_no_sandbox_noise_in_any_feedback(graded):
    scratch, _ = graded
    for student in ("ada", "cleo", "mallory"):
        assert "Fontconfig" not in feedback(scratch, student)
        assert "Fontconfig" not in all_output_text(autograded(scratch, student))


def test_feedback_pages_forbid_scripts_and_carry_none(graded):
    scratch, _ = graded
    for student in ("ada", "cleo", "mallory", "broken"):
        page = feedback(scratch, student)
        policy = re.search(r'<meta[^>]*Content-Security-Policy[^>]*>', page)
        assert policy and "script-src 'none'" in policy.group(0) and "default-src 'none'" in policy.group(0)
        assert page.index("Content-Security-Policy") < page.index("<body")
        assert script_tags(page) == 0
    attributes = _Attributes()
    attributes.feed(feedback(scratch, "mallory"))
    assert [a for a in attributes.found if a[0].startswith("on") or "javascript:" in (a[1] or "").lower()] == []
    assert [a for a in attributes.found if a[0] in ("src", "href", "data", "action")
            and not (a[1] or "").startswith(("data:image/", "#"))] == []


def test_the_rubric_is_for_tas_only(graded):
    scratch, _ = graded
    schemes = {c.metadata.nbgrader.grade_id: mark_scheme(c.source) for c in scratch.source_notebook(ASSIGNMENT).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") in ("normalisation_answer", "derivation_answer")}
    cells = autograded(scratch, "ada").cells
    for grade_id in schemes:
        index = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        assert is_rubric(cells[index + 1]) and f"Rubric for <code>{grade_id}</code>" in cells[index + 1].source
    phrase = "The minus sign from the inner derivative must be there"
    assert phrase in schemes["derivation_answer"]
    assert phrase in page_text(cells[[i for i, c in enumerate(cells) if is_rubric(c)][1]].source)
    for student in ("ada", "mallory"):
        text = page_text(feedback(scratch, student))
        assert "Rubric for" not in text and phrase not in text
    # mallory's forged rubric marker did not survive sanitising: her notes are hers, and in her feedback
    forged = [c for c in autograded(scratch, "mallory").cells if "Mallory's readable notes" in c.source]
    assert forged and not is_rubric(forged[0])
    assert "Mallory's readable notes" in page_text(feedback(scratch, "mallory"))


def test_a_submission_that_could_not_be_graded_gets_a_page_and_a_mark_in_the_csv(graded):
    scratch, report = graded
    entry = next(r for r in report.results if r.student == "broken")
    assert entry.problem and "not JSON" in entry.problem
    text = page_text(feedback(scratch, "broken"))
    assert "your submission could not be graded" in text and "not JSON" in text
    with open(report.grades_csv, newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}
    assert "not JSON" in rows["broken"]["problem"] and float(rows["broken"]["score"]) == 0
    assert rows["ada"]["problem"] == "" and float(rows["ada"]["score"]) == 19


def test_grade_says_how_many_written_points_wait_for_a_ta(graded):
    from autograder.cli import _written_points_waiting
    from autograder.insight import graded_cells

    scratch, _ = graded
    course = scratch.course
    written = {cell.grade_id for cell in graded_cells(course, ASSIGNMENT) if cell.written}
    waiting = answers = 0
    with course.gradebook() as gradebook:
        for submission in gradebook.find_assignment(ASSIGNMENT).submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in written and grade.needs_manual_grade:
                        waiting, answers = waiting + grade.max_score, answers + 1
    assert waiting > 0, "the class has written answers no TA has graded"
    line = _written_points_waiting(course, ASSIGNMENT)
    assert f"{answers} answer(s), {waiting:g} points in all, wait for a TA" in line
