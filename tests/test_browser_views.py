"""What a person's browser renders from a submission is inert: formgrader and feedback, in real Chromium.

A class of 03 with a hostile submission (tests/hostile/views.py: ``<img
onerror>``, an SVG with ``onload``, a Markdown ``<script>``, ``javascript:``
links, frames and images pointing at Jupyter's REST API, JavaScript and widget
outputs, HTML in cell and notebook metadata) is graded by the real pipeline.
Then the TA's JupyterLab is started on 127.0.0.1 in the course folder, and
Chromium (Playwright) opens formgrader's manual-grading view of that
submission, and the student's feedback HTML. Every request the page makes is
recorded: no student script runs (the marker it would set stays unset), no
request reaches ``/api/``, and the student's plot and Markdown answers are
still there. The TA sees the rubric beside the written derivation.
Screenshots go to ``benchmarks/results/``.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from autograder.course import REPOSITORY, prepare_grading_root
from autograder.preprocessors.sanitize import clean_cell, clean_html, clean_output, clean_svg
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from tests.browser import LAB_OPTIONS, TOKEN, chromium, free_port, jupyterlab, needs_browser
from tests.conftest import missing, sandbox_works

RESULTS = REPOSITORY / "benchmarks" / "results"
MARKER = "__pwned"


def needs_browser_and_sandbox():
    needs_browser()
    if not sandbox_works():
        missing("bubblewrap", "the full sandbox needs bubblewrap")


# -- the sanitiser on its own (no browser) ------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()


def test_markdown_stays_readable_math_stays_and_rendering_it_again_changes_nothing():
    cell = nbformat.v4.new_markdown_cell(
        "## My answer\nSince $x_k < 1$, **the slope** is\n\n$$\\frac{\\partial E}{\\partial w} = -2 e\\, o (1 - o)$$\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>window.__pwned = 1</script><img src=x onerror=alert(1)>\n\n"
        "[ok](https://example.org) [bad](javascript:alert(1)) ![plot](attachment:p.png)",
        attachments={"p.png": {"image/png": PNG}})
    cleaned = clean_cell(cell)
    html = markdown2html_mistune(cleaned.source)
    assert html.strip() == cleaned.source          # formgrader's renderer gives exactly the sanitised HTML
    for kept in ("<h2>My answer</h2>", "$x_k &lt; 1$", "<strong>the slope</strong>",
                 "$$\\frac{\\partial E}{\\partial w} = -2 e\\, o (1 - o)$$", "<td>1</td>",
                 'href="https://example.org"', f'src="data:image/png;base64,{PNG}"'):
        assert kept in cleaned.source
    for gone in ("script", "onerror", "javascript", 'src="x"'):
        assert gone not in cleaned.source
    assert clean_cell(cleaned).source == cleaned.source   # idempotent: feedback sanitises again


def test_outputs_keep_plots_and_text_and_lose_everything_active():
    output = clean_output({"output_type": "display_data", "metadata": {"image/png": {"width": "1 onerror=alert(1)"}},
                           "data": {"image/png": PNG, "text/plain": "<Figure>", "application/javascript": "alert(1)",
                                    "text/html": '<b onclick="x()">bold</b><iframe src="/api/contents"></iframe>',
                                    "application/vnd.nn-course.answer+json": {"name": "X", "value": [1, 2]}}})
    assert output.data["image/png"] == PNG and output.metadata == {}
    assert output.data["text/html"] == "<b>bold</b>"
    assert output.data["application/vnd.nn-course.answer+json"] == {"name": "X", "value": [1, 2]}
    assert "application/javascript" not in output.data
    assert clean_output({"output_type": "display_data", "data": {"image/png": '" onerror="alert(1)'}}) is None
    assert clean_output({"output_type": "stream", "name": '"><script>', "text": "hi"}).name == "stdout"
    svg = clean_svg('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
                    '<foreignObject><img src=x onerror=alert(3)></foreignObject>'
                    '<circle r="4" style="fill: url(https://example.org/x)"/><use href="https://example.org/a.svg#x"/>'
                    '<path d="M0 0L1 1" style="stroke: #1f77b4" clip-path="url(#p1)"/></svg>')
    assert "<circle" in svg and 'd="M0 0L1 1"' in svg and 'stroke="#1f77b4"' in svg
    for gone in ("onload", "script", "foreignObject", "img", "example.org", "style", "url(#p1)"):
        assert gone not in svg
    assert clean_html('<a href="/api/contents">x</a><img src="/api/kernels"><img alt="a" src="x">') == \
        '<a rel="noopener noreferrer nofollow">x</a>'


# -- the real views, in Chromium ----------------------------------------------

@pytest.fixture(scope="module")
def graded():
    needs_browser_and_sandbox()
    from tests.hostile.views import graded_views_class

    return graded_views_class()


@pytest.fixture(scope="module")
def ta_lab(graded):
    """The TA's JupyterLab in the course folder (formgrader reads the course's config there)."""
    scratch, _ = graded
    root = scratch.root
    prepare_grading_root(root)   # as a TA's course folder: formgrader reads the course's config there
    port = free_port()
    with jupyterlab([sys.executable, "-m", "jupyter", "lab", "--allow-root", f"--port={port}",
                     f"--ServerApp.root_dir={root}", *LAB_OPTIONS], root, port) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    needs_browser_and_sandbox()
    with chromium() as launched:
        yield launched


class Recorder:
    """Every request a page makes."""

    def __init__(self, page):
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def api(self) -> list[str]:
        return [u for u in self.urls if urlparse(u).path.startswith("/api/")]


def submission_id(scratch, student: str) -> str:
    course = scratch.course
    name = course.notebooks("03-backprop-errors")[0]
    with course.gradebook() as gradebook:
        return gradebook.find_submission_notebook(name, "03-backprop-errors", student).id


def open_formgrader(browser, ta_lab, scratch, student: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    recorder = Recorder(page)
    page.goto(f"{ta_lab}/formgrader/submissions/{submission_id(scratch, student)}/?token={TOKEN}")
    page.wait_for_selector("#notebook-container .cell", timeout=60_000)
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)   # formgrader's own scripts load the scores; a student's onload would have run
    return page, recorder


def assert_inert(page, recorder):
    """No student script ran, now or after clicking the student's links; nothing reached /api/."""
    for text in ("click me", "link"):
        for link in page.get_by_text(text, exact=True).all():
            if link.is_visible():
                link.click()
    page.wait_for_timeout(500)
    assert page.evaluate(f"window.{MARKER}") is None
    assert recorder.api() == []
    assert [u for u in recorder.urls if urlparse(u).path.endswith("/x")] == []   # the student's relative images


def assert_students_work_visible(page):
    plot = page.locator(".cell", has_text="mallory's plot").locator(".output_png img")
    assert plot.count() == 1 and plot.first.is_visible()
    assert plot.first.evaluate("img => img.naturalWidth") > 100   # a real, decoded PNG
    circle = page.locator(".output_svg img").first
    assert circle.is_visible() and circle.evaluate("img => img.naturalWidth") == 60   # the sanitised SVG
    for text in ("Mallory's notes", "Mallory's readable notes with math", "styled",
                 "Ada's derivation by the chain rule", "Ada's written answer about normalisation"):
        assert page.get_by_text(text).first.is_visible(), text
    # formgrader keeps the TeX (its MathJax typesets it when it can); feedback typesets it as MathML
    assert ("\\frac{\\partial E}{\\partial w_{j,k}}" in page.content() or page.locator(".MathJax").count() > 0
            or page.locator("math mfrac").count() > 0)


@pytest.mark.browser
@pytest.mark.sandbox
def test_formgrader_shows_a_hostile_submission_inert(graded, ta_lab, browser):
    scratch, _ = graded
    page, recorder = open_formgrader(browser, ta_lab, scratch, "mallory")
    assert page.locator("input.score").count() >= 2   # formgrader itself works: the manual scores
    assert_students_work_visible(page)
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.locator(".cell", has_text="mallory's plot").locator(".output_png img").first.evaluate(
        "img => img.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(RESULTS / "formgrader-hostile.png"))
    assert_inert(page, recorder)
    page.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_formgrader_shows_the_rubric_beside_the_written_derivation(graded, ta_lab, browser):
    scratch, _ = graded
    page, recorder = open_formgrader(browser, ta_lab, scratch, "ada")
    beside = page.evaluate("""() => {
        const answer = document.getElementById('derivation_answer').closest('.cell');
        const next = answer.nextElementSibling;
        return next && next.querySelector('.course-rubric') ? next.querySelector('.course-rubric').innerText : null;
    }""")
    assert beside is not None, "the cell after the derivation answer is its rubric"
    assert "Rubric for derivation_answer (3 points)" in beside
    assert "The minus sign from the inner derivative must be there" in beside
    rubric = page.locator(".course-rubric", has_text="derivation_answer")
    assert rubric.is_visible()
    page.locator(".cell", has_text="Ada's derivation by the chain rule").first.scroll_into_view_if_needed()
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "formgrader-rubric.png"))
    assert recorder.api() == []
    page.close()


def feedback_file(scratch, student: str) -> Path:
    name = scratch.course.notebooks("03-backprop-errors")[0]
    return scratch.course.path("feedback", student, "03-backprop-errors", f"{name}.html")


@pytest.mark.browser
@pytest.mark.sandbox
def test_the_feedback_page_of_a_hostile_submission_is_inert(graded, browser):
    scratch, _ = graded
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    recorder = Recorder(page)
    url = feedback_file(scratch, "mallory").as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    assert_students_work_visible(page)
    for fold in page.locator("details > summary").all():   # what the checks printed is folded: open it
        fold.click()
    assert page.get_by_text("a line of hidden test code was removed").first.is_visible()
    page.locator(".cell", has_text="mallory's plot").locator(".output_png img").first.evaluate(
        "img => img.scrollIntoView({block: 'center'})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "feedback-hostile.png"))
    assert_inert(page, recorder)
    own = ("glyphicons-halflings-regular",)   # bootstrap's icon font, named by nbgrader's CSS (blocked by the CSP)
    assert [u for u in recorder.urls if u != url and not u.startswith("data:") and not any(o in u for o in own)] == []
    page.close()


@pytest.mark.browser
@pytest.mark.sandbox
def test_an_honest_feedback_page_says_what_awaits_a_ta(graded, browser):
    scratch, _ = graded
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(feedback_file(scratch, "ada").as_uri())
    summary = page.locator("#awaiting-summary")
    assert summary.is_visible() and "awaiting grading by a TA" in summary.inner_text()
    assert page.locator("#summary").is_visible()
    assert page.get_by_text("Test cell: one weight update").count() == 1   # in the folded list of every cell
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "feedback-page.png"))
    page.close()
