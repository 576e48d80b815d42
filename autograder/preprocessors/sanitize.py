"""SanitizeStudentContent: what a student controlled is inert wherever a person looks.

Formgrader (the TA's manual-grading view, in the TA's logged-in Jupyter
origin), the feedback HTML and JupyterLab all render the autograded notebook.
Everything in it that came from the student's notebook or the student's kernel
— outputs of every cell, sources of cells the student could edit, cell and
notebook metadata — is rewritten here, once, before the notebook is stored:

- HTML (``text/html`` outputs, rendered Markdown, raw cells) goes through
  ``nh3`` (the Python binding of the Rust sanitiser *ammonia*, an allow-list
  parser built on html5ever, as browsers parse): no scripts, no event
  handlers, no ``style``/``class``/``id``, links only to ``#``, http(s) and
  mailto, images only as ``data:`` PNG/JPEG/GIF — so nothing a student wrote
  can make the reviewer's browser send a request anywhere.
- Markdown cells are rendered with nbconvert's own Markdown renderer (the one
  formgrader and feedback use, with the same math handling), the HTML is
  sanitised, and the cell keeps that HTML as a single-line HTML block:
  rendering it again as Markdown gives the same, sanitised HTML. TeX stays as
  text between ``$…$`` for MathJax.
- ``image/svg+xml`` is sanitised with an SVG allow-list (shapes, paths, text,
  gradients; no scripts, handlers, links, ``foreignObject``, ``style`` or ``id``); PNG and JPEG
  outputs are kept when they are well-formed base64 images.
- ``text/markdown`` outputs become sanitised ``text/html``; ``text/latex`` is
  kept only when it holds no markup characters; JavaScript, widgets and every
  other MIME type are dropped. The course's recorded answers
  (:data:`exercises.answers.ANSWER_MIME`, JSON that no view renders as HTML)
  are kept for the TA to audit.
- Cell metadata keeps only nbgrader's (type-checked), cell ids and execution
  counts are checked, notebook metadata keeps the kernel and language names.

The preprocessor is idempotent, runs last in ``autograde`` (after nbgrader's
``SaveAutoGrades`` has compared answers against their checksums) and again in
``generate_feedback``.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor

from exercises.answers import ANSWER_MIME

# -- HTML ---------------------------------------------------------------------

#: ammonia's default tags (headings, paragraphs, lists, tables, code, img, a…), minus image maps.
HTML_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
HTML_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items() if tag in HTML_TAGS}
URL_SCHEMES = {"http", "https", "mailto", "data"}
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*\Z")
_LINK = re.compile(r"(#|https?://|mailto:)", re.IGNORECASE)
_LENGTH = re.compile(r"\d{1,5}(\.\d+)?(px|%)?\Z")


def _html_attribute(tag: str, name: str, value: str) -> str | None:
    """Per-attribute rules on top of ammonia's allow-list."""
    if name == "href":
        return value if _LINK.match(value.strip()) else None
    if name in ("src", "cite", "longdesc"):
        return value if name == "src" and _DATA_IMAGE.match(value.strip()) else None
    if name in ("width", "height"):
        return value if _LENGTH.match(value.strip()) else None
    return value


#: An image left without a source (it pointed elsewhere): dropped, not shown broken.
_IMAGE_WITHOUT_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


def clean_html(html: str) -> str:
    """*html* with everything but inert markup removed (nh3, an allow-list)."""
    cleaned = nh3.clean(str(html), tags=HTML_TAGS, attributes=HTML_ATTRIBUTES,
                        attribute_filter=_html_attribute, url_schemes=URL_SCHEMES,
                        link_rel="noopener noreferrer nofollow", strip_comments=True)
    # nh3's output is serialised HTML (every "<" of text escaped): removing a whole tag makes no new one.
    return _IMAGE_WITHOUT_SOURCE.sub("", cleaned)


# -- SVG ----------------------------------------------------------------------

SVG_TAGS = {"svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text",
            "tspan", "defs", "symbol", "clipPath", "linearGradient", "radialGradient", "stop", "title", "desc"}
_SVG_PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity",
    "transform", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "clip-path", "clip-rule", "stop-color", "stop-opacity",
}
_SVG_GEOMETRY = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width", "height",
                 "d", "points", "dx", "dy", "offset", "gradientunits", "gradienttransform",
                 "clippathunits", "fx", "fy", "version", "preserveaspectratio", "viewbox"}
SVG_ATTRIBUTES = {tag: _SVG_PRESENTATION | _SVG_GEOMETRY | {"viewBox", "preserveAspectRatio",
                                                              "gradientUnits", "gradientTransform",
                                                              "clipPathUnits", "href", "xlink:href"}
                  for tag in SVG_TAGS}


def _svg_attribute(tag: str, name: str, value: str) -> str | None:
    """No references at all (no ids to point at), no CSS escapes or imports."""
    text = str(value)
    if name in ("href", "xlink:href"):
        return None
    if "\\" in text or "@" in text or "expression" in text.lower() or "javascript" in text.lower():
        return None
    if "url(" in text.lower():
        return None
    return value


_STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_STYLE_VALUE = re.compile(r"[\w#.,%() \-]{1,100}")


def _style_as_attributes(match: re.Match) -> str:
    """``style="fill: red; stroke: #000"`` → `` fill="red" stroke="#000"`` (allow-listed properties only)."""
    kept = []
    for declaration in (match.group(1) or match.group(2) or "").split(";"):
        name, _, value = (part.strip() for part in declaration.partition(":"))
        name = name.lower()
        if name in _SVG_PRESENTATION and _STYLE_VALUE.fullmatch(value) and _svg_attribute("", name, value):
            kept.append(f' {name}="{value}"')
    return "".join(kept)


def clean_svg(svg: str) -> str:
    """*svg* reduced to shapes, paths and text (no scripts, handlers, links).

    No ``style`` and no ``id`` survive: CSS in any view that inlines the SVG
    would style the page around it, and an id could shadow the page's own
    (``window.<id>``, ``#id`` in its scripts). A ``style`` is first rewritten
    as presentation attributes (matplotlib colours its lines with it), each
    allow-listed and checked like any attribute; without ids, references to
    a clip path or a marker (``url(#…)``, ``<use href="#…">``) point nowhere
    and are dropped, so a plot is drawn unclipped and without ``<use>`` markers.
    """
    svg = _STYLE_ATTRIBUTE.sub(_style_as_attributes, str(svg))
    cleaned = nh3.clean(svg, tags=SVG_TAGS, attributes=SVG_ATTRIBUTES,
                        attribute_filter=_svg_attribute, url_schemes=set(),
                        set_tag_attribute_values={"svg": {"xmlns": "http://www.w3.org/2000/svg"}},
                        clean_content_tags={"script", "style", "foreignobject"}, strip_comments=True)
    return cleaned if "<svg" in cleaned else ""


# -- Markdown -----------------------------------------------------------------

#: Marks a Markdown source this preprocessor wrote (sanitised HTML on one line).
SAFE_MARKDOWN_OPEN = '<div class="sanitized-markdown">'


def markdown_to_html(source: str, attachments: dict | None = None) -> str:
    """Markdown → HTML with nbconvert's renderer, math kept as TeX text."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {}, exclude_anchor_links=True)
    return MarkdownWithMath(renderer=renderer).render(str(source))


def one_line_html(html: str) -> str:
    """Sanitised *html* as one line in a ``<div>``: a Markdown HTML block that renders as itself.

    A CommonMark HTML block that starts with ``<div`` ends at the first blank
    line; with every newline written as ``&#10;`` there is none, so neither
    Markdown nor math parsing touches what is inside.
    """
    return SAFE_MARKDOWN_OPEN + clean_html(html).replace("\r", "").replace("\n", "&#10;") + "</div>"


def safe_markdown(source: str, attachments: dict | None = None) -> str:
    """A Markdown source that renders (as Markdown) to the sanitised rendering of *source*."""
    return one_line_html(markdown_to_html(source, attachments))


# -- outputs ------------------------------------------------------------------

_IMAGE_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
                "image/gif": (b"GIF87a", b"GIF89a")}
_TEXT_LATEX_FORBIDDEN = re.compile(r"[<>&]")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def clean_image(mime: str, data: Any) -> str | None:
    """The base64 text of a well-formed image, or None."""
    text = re.sub(r"\s", "", _text(data))
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text if raw.startswith(_IMAGE_MAGIC[mime]) else None


def clean_bundle(data: dict) -> dict:
    """A MIME bundle with only inert representations left."""
    kept: dict[str, Any] = {}
    for mime, value in data.items():
        if mime == "text/plain":
            kept[mime] = _text(value)
        elif mime == ANSWER_MIME and isinstance(value, (dict, list, str, int, float, bool)):
            kept[mime] = value  # JSON, judged by the key; no view renders it as HTML
        elif mime == "text/html":
            kept[mime] = clean_html(_text(value))
        elif mime == "text/markdown" and "text/html" not in data:
            kept["text/html"] = clean_html(markdown_to_html(_text(value)))
        elif mime == "image/svg+xml":
            svg = clean_svg(_text(value))
            if svg:
                kept[mime] = svg
        elif mime in _IMAGE_MAGIC:
            image = clean_image(mime, value)
            if image:
                kept[mime] = image
        elif mime == "text/latex" and not _TEXT_LATEX_FORBIDDEN.search(_text(value)):
            kept[mime] = _text(value)
    return kept


def _image_metadata(metadata: Any, bundle: dict) -> dict:
    kept: dict[str, Any] = {}
    for mime in _IMAGE_MAGIC:
        entry = metadata.get(mime) if isinstance(metadata, dict) else None
        if mime in bundle and isinstance(entry, dict):
            sizes = {k: int(v) for k, v in entry.items()
                     if k in ("width", "height") and isinstance(v, (int, float)) and not isinstance(v, bool)}
            if sizes:
                kept[mime] = sizes
    return kept


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_output(output: Any) -> NotebookNode | None:
    """An output rebuilt from its inert parts, or None when nothing is left."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return from_dict({"output_type": "stream", "name": name, "text": _text(output.get("text", ""))})
    if kind == "error":
        traceback = output.get("traceback", [])
        return from_dict({"output_type": "error", "ename": _text(output.get("ename", "")),
                          "evalue": _text(output.get("evalue", "")),
                          "traceback": [_text(line) for line in traceback] if isinstance(traceback, list) else []})
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        bundle = clean_bundle(data) if isinstance(data, dict) else {}
        if not bundle:
            return None
        node = {"output_type": kind, "data": bundle, "metadata": _image_metadata(output.get("metadata", {}), bundle)}
        if kind == "execute_result":
            node["execution_count"] = _count(output.get("execution_count"))
        return from_dict(node)
    return None


# -- metadata -----------------------------------------------------------------

_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")
_NAME = re.compile(r"[\w.+\-() ]{0,100}\Z")
_NBGRADER_FLAGS = ("grade", "solution", "locked", "task")
_NBGRADER_TEXT = ("checksum", "cell_type", "comment", "label")


def clean_nbgrader(metadata: Any) -> dict | None:
    """nbgrader's cell metadata with known keys of the right types only."""
    if not isinstance(metadata, dict):
        return None
    grade_id = metadata.get("grade_id")
    if grade_id is not None and not (isinstance(grade_id, str) and _ID.match(grade_id)):
        return None
    kept: dict[str, Any] = {} if grade_id is None else {"grade_id": grade_id}
    for key in _NBGRADER_FLAGS + ("awaiting",):
        if isinstance(metadata.get(key), bool):
            kept[key] = metadata[key]
    for key in ("points", "score", "schema_version"):
        value = metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            kept[key] = value
    for key in _NBGRADER_TEXT:
        if isinstance(metadata.get(key), str):
            kept[key] = metadata[key]
    if kept.get("comment"):
        comment = kept["comment"]
        kept["comment"] = resanitise(comment) if is_safe_markdown(comment) else safe_markdown(comment)
    return kept


def clean_cell_metadata(metadata: Any) -> dict:
    kept: dict[str, Any] = {}
    if not isinstance(metadata, dict):
        return kept
    nbgrader = clean_nbgrader(metadata.get("nbgrader"))
    if nbgrader is not None:
        kept["nbgrader"] = nbgrader
    for key in ("deletable", "editable"):
        if isinstance(metadata.get(key), bool):
            kept[key] = metadata[key]
    seconds = metadata.get("nn_course", {}).get("seconds") if isinstance(metadata.get("nn_course"), dict) else None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        kept["nn_course"] = {"seconds": seconds}  # the grader's own timing of the cell (autograder.preprocessors.sandbox)
    return kept


def clean_notebook_metadata(metadata: Any) -> dict:
    kept: dict[str, Any] = {}
    if not isinstance(metadata, dict):
        return kept
    for section, keys in (("kernelspec", ("name", "display_name", "language")),
                          ("language_info", ("name", "version", "file_extension", "mimetype", "pygments_lexer"))):
        values = metadata.get(section)
        if isinstance(values, dict):
            clean = {k: values[k] for k in keys if isinstance(values.get(k), str) and _NAME.match(values[k])}
            if "name" in clean and (section != "kernelspec" or "display_name" in clean):
                kept[section] = clean
    return kept


def is_safe_markdown(source: str) -> bool:
    """A Markdown source this module wrote: sanitised HTML on one line."""
    return source.startswith(SAFE_MARKDOWN_OPEN) and "\n" not in source


def resanitise(source: str) -> str:
    """Sanitise again what :func:`one_line_html` wrote (its inner HTML)."""
    inner = source[len(SAFE_MARKDOWN_OPEN):].removesuffix("</div>")
    return one_line_html(inner.replace("&#10;", "\n"))


def clean_cell(cell: NotebookNode) -> NotebookNode:
    """*cell* with every part a student could have written made inert."""
    kind = cell.get("cell_type")
    if kind not in ("code", "markdown", "raw"):
        kind = "raw"
    source = _text(cell.get("source", ""))
    attachments = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else None
    node: dict[str, Any] = {"cell_type": kind, "metadata": clean_cell_metadata(cell.get("metadata", {}))}
    cell_id = cell.get("id")
    node["id"] = cell_id if isinstance(cell_id, str) and _ID.match(cell_id) else uuid.uuid4().hex[:8]
    if kind == "markdown":
        # Re-rendering what this module wrote gives the same HTML: sanitise that HTML again.
        node["source"] = resanitise(source) if is_safe_markdown(source) else safe_markdown(source, attachments)
    elif kind == "raw":
        node["source"] = clean_html(source)
    else:
        node["source"] = source
        node["execution_count"] = _count(cell.get("execution_count"))
        node["outputs"] = [kept for kept in map(clean_output, cell.get("outputs", []) or []) if kept is not None]
    return from_dict(node)


class SanitizeStudentContent(NbGraderPreprocessor):
    """Rewrite the notebook so that no view of it can run or fetch anything."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb.cells = [clean_cell(cell) for cell in nb.cells]
        nb.metadata = from_dict(clean_notebook_metadata(nb.get("metadata", {})))
        return nb, resources
