"""TypesetMath: formulas in the feedback shown as math, with no script anywhere.

The feedback page forbids scripts (see :mod:`autograder.feedback_page`), so
MathJax cannot typeset its TeX, and an offline course server could not load
it anyway. This step, run after :class:`~autograder.preprocessors.sanitize.SanitizeStudentContent`,
turns every ``$…$`` and ``$$…$$`` (and ``\\(…\\)``, ``\\[…\\]``) in the
rendered Markdown cells into MathML with `latex2mathml`_, which browsers
draw natively (Chromium since version 109, Firefox and Safari long before).

latex2mathml is pure Python, maintained, and has no dependencies; it covers
the TeX the course writes (fractions, sums, sub- and superscripts, matrices,
``\\text``, ``\\big``). Its output is not trusted as such: a student's
``\\text{<script>}`` or ``\\href{javascript:…}`` would pass through it, so the
MathML is sanitised with nh3 to presentation-MathML elements and harmless
attributes only. TeX it cannot read stays as text in ``<code>``.

.. _latex2mathml: https://pypi.org/project/latex2mathml/
"""

from __future__ import annotations

import html
import re

import nh3
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.preprocessors.sanitize import SAFE_MARKDOWN_OPEN, is_safe_markdown

MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot", "msub", "msup",
               "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
               "menclose", "semantics", "annotation", "merror", "mmultiscripts", "mprescripts", "none"}
MATHML_ATTRIBUTES = {"display", "mathvariant", "displaystyle", "scriptlevel", "stretchy", "fence", "separator",
                     "lspace", "rspace", "width", "height", "depth", "columnalign", "rowalign", "columnspacing",
                     "rowspacing", "columnlines", "rowlines", "frame", "notation", "minsize", "maxsize",
                     "movablelimits", "accent", "accentunder", "linethickness", "align", "form", "largeop",
                     "symmetric", "xmlns", "encoding"}

#: Math in text: $$…$$ and \[…\] (display), $…$ and \(…\) (inline); a lone "$5" is left alone.
_MATH = re.compile(r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i2>.+?)\\\)"
                   r"|(?<![\\$\w])\$(?P<i1>[^\s$](?:[^$]*?[^\s$\\])?)\$(?!\w)", re.S)
#: What is never typeset: code, and the tags themselves.
_SKIP = re.compile(r"(<(code|pre|kbd|samp)\b[^>]*>.*?</\2>|<[^>]+>)", re.S | re.I)


def mathml(tex: str, display: bool) -> str:
    """*tex* as sanitised MathML; escaped TeX in ``<code>`` if it cannot be converted."""
    from latex2mathml.converter import convert

    try:
        markup = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds on TeX it does not know
        return f'<code class="tex">{html.escape(tex)}</code>'
    attributes = {tag: set(MATHML_ATTRIBUTES) for tag in MATHML_TAGS}
    return nh3.clean(markup, tags=MATHML_TAGS, attributes=attributes, url_schemes=set(),
                     link_rel=None, strip_comments=True)


def typeset_text(text: str) -> str:
    """HTML text (no tags) with its math typeset."""
    def replace(match: re.Match) -> str:
        display = match.group("d1") is not None or match.group("d2") is not None
        tex = next(group for group in match.group("d1", "d2", "i2", "i1") if group is not None)
        return mathml(html.unescape(tex.replace("&#10;", " ")), display)

    return _MATH.sub(replace, text)


def typeset_html(markup: str) -> str:
    """*markup* with math typeset in its text, never inside code or a tag (math split by a tag stays TeX)."""
    out, position = [], 0
    for skipped in _SKIP.finditer(markup):
        out += [typeset_text(markup[position:skipped.start()]), skipped.group(0)]
        position = skipped.end()
    out.append(typeset_text(markup[position:]))
    return "".join(out)


def typeset_markdown_cell(source: str) -> str:
    """A sanitised Markdown cell (one line of HTML) with its math typeset, still one line."""
    if not is_safe_markdown(source):
        return source
    inner = source[len(SAFE_MARKDOWN_OPEN):].removesuffix("</div>")
    return SAFE_MARKDOWN_OPEN + typeset_html(inner).replace("\n", "&#10;") + "</div>"


class TypesetMath(NbGraderPreprocessor):
    """TeX in Markdown cells and in the graded cells' labels → MathML (after SanitizeStudentContent)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        for cell in nb.cells:
            if cell.get("cell_type") == "markdown":
                cell.source = typeset_markdown_cell(cell.source)
        return nb, resources
