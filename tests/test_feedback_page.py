"""The feedback page a student reads in ten seconds, in real Chromium.

cleo (tests/hostile/views.py) makes 03's typical mistake and steps uphill in
the update by hand; her written answers wait for a TA. Her page, as
``generate_feedback`` wrote it, is opened in Chromium: the summary at the top
lists exactly the cells that lost points (from the gradebook) with their
reasons; each graded cell's verdict sits directly under its header, styled;
formulas are MathML that Chromium lays out as math, no ``$$`` is left; no
script is on the page; no internal names, no "..". Screenshots go to
``benchmarks/results/`` (git-ignored).
"""

from __future__ import annotations

import re

import pytest

from autograder.course import REPOSITORY
from autograder.preprocessors.typeset import mathml, typeset_markdown_cell
from tests.browser import chromium, needs_browser
from tests.conftest import missing, sandbox_works

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

RESULTS = REPOSITORY / "benchmarks" / "results"
ASSIGNMENT = "03-backprop-errors"


# -- the typesetting on its own (no browser) ------------------------------------

def test_tex_becomes_mathml_and_a_students_tex_cannot_smuggle_markup():
    cell = ('<div class="sanitized-markdown"><p>costs $5, off by $e$, and '
            '$$\\frac{a}{b}\\text{&lt;img src=x onerror=alert(1)&gt;}\\href{javascript:alert(2)}{x}$$</p>'
            '<code>$kept$</code></div>')
    typeset = typeset_markdown_cell(cell)
    assert typeset.count("<math") == 2 and "<mfrac>" in typeset
    assert "$5" in typeset and "<code>$kept$</code>" in typeset and "$$" not in typeset
    assert "<img" not in typeset and "javascript:" not in typeset and "href" not in typeset
    assert "\n" not in typeset   # still one line: Markdown renders it as itself
    assert mathml("\\frac{", display=False).startswith('<code class="tex">')


# -- the page, in Chromium ------------------------------------------------------

@pytest.fixture(scope="module")
def cleo_page():
    needs_browser()
    if not sandbox_works():
        missing("bubblewrap", "the full sandbox needs bubblewrap")
    from tests.hostile.views import graded_views_class

    scratch, _ = graded_views_class()
    course = scratch.course
    notebook = course.notebooks(ASSIGNMENT)[0]
    with course.gradebook() as gradebook:
        grades = gradebook.find_submission_notebook(notebook, ASSIGNMENT, "cleo").grades
        cells = {g.name: (g.score, g.max_score, g.needs_manual_grade) for g in grades}
    path = course.path("feedback", "cleo", ASSIGNMENT, f"{notebook}.html")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        yield page, cells, requests, path
        page.close()


def test_the_summary_lists_exactly_the_cells_that_lost_points_with_their_reasons(cleo_page):
    page, cells, _, _ = cleo_page
    lost = {name for name, (score, points, waiting) in cells.items() if not waiting and score < points}
    # the typical mistake and the uphill step (tests/test_feedback.py may have graded a written answer too)
    assert {"matrix", "update_by_hand"} <= lost, cells
    summary = page.locator("#summary")
    assert summary.is_visible() and summary.bounding_box()["y"] < 200   # at the top of the page
    listed = {item.get_attribute("data-cell") for item in page.locator("#lost li").all()}
    assert listed == lost
    matrix = page.locator('#lost li[data-cell="matrix"]').inner_text()
    assert "used without transposing it" in matrix   # the named mistake, not the crash of a later case
    assert "added instead of subtracted" in page.locator('#lost li[data-cell="update_by_hand"]').inner_text()
    link = page.locator('#lost li[data-cell="matrix"] a')
    assert link.get_attribute("href") == "#matrix" and page.locator('a[name="matrix"]').count() == 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "feedback-summary-top.png"))


def test_each_verdict_sits_under_its_cells_header_styled_with_the_detail_folded(cleo_page):
    page, cells, _, _ = cleo_page
    kinds = {}
    for name, (score, points, waiting) in cells.items():
        verdict = page.locator(f'a[name="{name}"] + div.panel-heading + div.verdict')
        assert verdict.count() == 1, name
        kinds[name] = verdict.get_attribute("class").split("verdict-")[-1]
        expected = "awaiting" if waiting else "full" if score >= points else "partial" if score > 0 else "none"
        assert kinds[name] == expected, (name, kinds[name], expected)
    colours = {kind: page.locator(f".verdict-{kind}").first.evaluate("e => getComputedStyle(e).backgroundColor")
               for kind in set(kinds.values())}
    assert len(set(colours.values())) == len(colours), colours   # full, partial, none and awaiting look different
    failed = page.locator("#verdict-matrix")
    assert failed.inner_text().startswith("No points: 0 of 2.")
    assert "used without transposing it" in failed.inner_text()
    # what the check recorded and its ticks are folded: present, closed, not on screen
    folded = page.locator('#cell-id\\=matrix details.detail')
    assert folded.count() == 1 and folded.get_attribute("open") is None
    assert not page.get_by_text("recorded e_hidden_matrix").first.is_visible()
    page.locator('#lost li[data-cell="matrix"] a').click()
    page.wait_for_timeout(300)
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "feedback-failed-cell.png"))
    folded.locator("summary").click()   # opens without a script
    assert page.get_by_text("recorded e_hidden_matrix").first.is_visible()


def test_formulas_render_as_math_and_no_script_runs(cleo_page):
    page, _, requests, path = cleo_page
    # what the reader sees outside code (a code example of how to write TeX keeps its dollars)
    text = page.evaluate("""() => { const body = document.body.cloneNode(true);
        body.querySelectorAll('code, pre').forEach(e => e.remove()); return body.textContent; }""")
    assert "$$" not in text and "\\frac" not in text, [text[max(0, text.find("$$") - 80):text.find("$$") + 80]]
    fractions = page.locator("math mfrac")
    assert fractions.count() > 3
    box = fractions.first.bounding_box()
    numerator, denominator = (fractions.first.locator(":scope > *").nth(i).bounding_box() for i in (0, 1))
    assert numerator["y"] + numerator["height"] <= denominator["y"] + 1, (numerator, denominator)  # laid out as a fraction
    assert box["height"] > numerator["height"]
    html = path.read_text()
    assert "<script" not in html.lower() and "script-src 'none'" in html
    assert page.locator("script").count() == 0
    assert [u for u in requests if not u.startswith(("file:", "data:")) and "glyphicons" not in u] == []


def test_no_internal_names_no_double_periods_no_banner_that_does_not_apply(cleo_page):
    page, _, _, _ = cleo_page
    text = page.locator("body").inner_text()
    assert "grader.seconds" not in text
    said = " ".join(page.locator("#summary, .verdict").all_inner_texts())
    assert not re.search(r"(?<!\.)\.\.(?!\.)", said), said
    assert "no deadline" not in text and "Late work" not in text   # this class has no due date
