"""A class of 03 whose submissions attack what people look at: formgrader and feedback.

- *ada* answers everything, with her own written answers (Markdown and math).
- *mallory* is ada plus hostile cells: HTML with ``onerror``, an SVG with
  ``onload``, a Markdown cell with ``<script>``, a ``javascript:`` link,
  images and frames pointing at Jupyter's REST API, JavaScript, widget and
  Markdown outputs, hostile cell and notebook metadata, a raw HTML cell; and an
  IPython hook that prints every cell's source as run (plain, base64,
  zlib+base64, reversed, hex), so the hidden tests reach the kernel's output.
  She also draws a plot (PNG) that must survive.
- *cleo* makes 03's typical mistake, and steps uphill in the update by hand (3 of its 4
  checks pass: partial credit).
- *ben* hands in the untouched release (his written answers are nbgrader's 0, not "awaiting").
- *broken* hands in a file that is not a notebook.

Graded once per test session by the real pipeline (``grade_class``, sandbox
included); the tests read the autograded notebooks, the feedback and the CSV.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

from autograder.grading_session import ScratchCourse, fill_solutions

ASSIGNMENT = "03-backprop-errors"
#: What a script of the student's would set, were it ever run.
MARKER = "__pwned"

WRITTEN = {
    "normalisation_answer": (
        "**Why the simplification is fine.** Each hidden node still gets blame in proportion to its "
        "weights, so the *direction* of every update is kept; only a scale factor per output node is lost, "
        "and the learning rate absorbs it. Ada's written answer about normalisation."),
    "derivation_answer": (
        "**My derivation.** With $x_k = \\sum_j w_{j,k} o_j$ and $o_k = \\text{sigmoid}(x_k)$, the chain rule "
        "gives\n\n$$\\frac{\\partial E}{\\partial w_{j,k}} = -2 (t_k - o_k)\\, o_k (1 - o_k)\\, o_j$$\n\n"
        "Ada's derivation by the chain rule, step by step."),
}

SPY = """\
import base64, zlib
from IPython import get_ipython

def _spy(info):
    source = info.raw_cell
    print(source)
    print(base64.b64encode(source.encode()).decode())
    print(base64.b64encode(zlib.compress(source.encode())).decode())
    print(source[::-1])
    print(source.encode().hex())

get_ipython().events.register("pre_run_cell", _spy)
"""

HOSTILE_OUTPUTS = """\
from IPython.display import HTML, SVG, Javascript, Markdown, display
import matplotlib.pyplot as plt
display(HTML('<img src="x" onerror="window.__pwned = 1; fetch(\\'/api/contents\\')">'))
display(HTML('<iframe src="/api/contents"></iframe><img src="/api/kernels"><object data="/api/sessions"></object>'))
display(HTML('<div style="background: url(/api/terminals)">styled</div><meta http-equiv="refresh" content="0;url=/api/status">'))
display(HTML('<a id="evil-link" href="javascript:window.__pwned = 3; fetch(\\'/api/kernels\\', {method: \\'POST\\'})">click me</a>'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="60" height="60" onload="window.__pwned = 2; '
            'fetch(\\'/api/kernels\\', {method: \\'POST\\'})"><circle cx="30" cy="30" r="25" fill="teal"/></svg>'))
display(Javascript('window.__pwned = 4; fetch("/api/contents/owned.txt", {method: "PUT"})'))
display(Markdown('Markdown output <img src="x" onerror="window.__pwned = 5">'))
display({"application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2, "version_minor": 0},
         "text/plain": "a widget"}, raw=True)
plt.figure(figsize=(3, 2))
plt.plot([0, 1, 2], [0, 1, 4], label="mallory's plot")
plt.title("mallory's plot")
plt.show()
"""

HOSTILE_MARKDOWN = (
    "### Mallory's notes\n"
    "<script>window.__pwned = 6; fetch('/api/contents', {method: 'POST'})</script>\n\n"
    "Mallory's readable notes with math $a < b$ and a [link](javascript:window.__pwned=7).\n\n"
    "<img src=x onerror=\"window.__pwned = 8\"> <svg onload=\"window.__pwned = 9\"></svg>\n\n"
    "```mermaid\n</pre><img src=x onerror=\"window.__pwned = 10\">\n```\n"
)


def _answered(release, source) -> nbformat.NotebookNode:
    notebook = fill_solutions(release, source)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in WRITTEN:
            cell.source = WRITTEN[grade_id]
    return notebook


def hostile(release, source) -> nbformat.NotebookNode:
    notebook = _answered(release, source)
    notebook.metadata["title"] = '</title><script>window.__pwned = 11</script>'
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"m1": {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                         "state": {"value": "<img src=x onerror='window.__pwned = 12'>"}}},
        "version_major": 2, "version_minor": 0}}
    spy = new_code_cell(SPY)
    outputs = new_code_cell(HOSTILE_OUTPUTS)
    outputs.metadata["tags"] = ['"><img src=x onerror="window.__pwned = 13">']
    markdown = new_markdown_cell(HOSTILE_MARKDOWN)
    markdown.metadata["nn_course"] = {"rubric": "derivation_answer"}   # a forged rubric marker
    raw = new_raw_cell('<img src=x onerror="window.__pwned = 14">')
    raw.metadata["raw_mimetype"] = "text/html"
    for cell in notebook.cells:   # her written answer carries a script too
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "derivation_answer":
            cell.source += "\n\n<script>window.__pwned = 15</script><img src=x onerror=\"window.__pwned = 16\">"
    notebook.cells[2:2] = [spy, outputs, markdown, raw]
    return notebook


@functools.lru_cache(maxsize=None)
def graded_views_class():
    """(scratch, report): the class above graded by ``grade_class`` with two workers."""
    from autograder.demo import typical_mistake
    from autograder.pipeline import grade_class

    scratch = ScratchCourse(Path(tempfile.mkdtemp(prefix="views-")))
    course = scratch.course
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    name = course.notebooks(ASSIGNMENT)[0]
    mistake = typical_mistake(ASSIGNMENT)
    cleo = _answered(release, source)
    for cell in cleo.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mistake["cell"]:
            cell.source = mistake["source"]
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "update_by_hand_impl":
            cell.source = cell.source.replace("new_w11 = 2.0 - 0.1 * dE_dw11", "new_w11 = 2.0 + 0.1 * dE_dw11  # uphill")
    for student, notebook in {"ada": _answered(release, source), "mallory": hostile(release, source),
                              "cleo": cleo, "ben": release}.items():
        folder = course.path("submitted", student, ASSIGNMENT)
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / f"{name}.ipynb"))
    broken = course.path("submitted", "broken", ASSIGNMENT)
    broken.mkdir(parents=True)
    (broken / f"{name}.ipynb").write_text('{"cells": [ this is not a notebook')
    report = grade_class(course, ASSIGNMENT, workers=2)
    return scratch, report
