"""Feedback steps: no hidden test code in it, and scores that say what they mean.

:class:`RedactHiddenTests` runs before nbgrader's ``ClearHiddenTests``. The
hidden part of a graded cell runs in the student's kernel, so a hook of the
student's (IPython's ``pre_run_cell``, say) can print it. Two steps, the
first structural, because no text matching can see through every encoding:

1. **Outputs made after hidden code ran are cut to plain text.** The kernel
   sees a hidden line only when the first cell holding hidden tests runs, so
   every output from that cell on is suspect: cells that are not the
   release's graded or solution cells (the student added them) lose their
   outputs in the feedback, and graded and solution cells keep only text
   (stream, error, ``text/plain``) — no HTML, SVG, image, Markdown or LaTeX,
   which can show any text in a form no matching reads (``<span>`` per
   character, a picture of the line). The student has all of them in the
   notebook they submitted; the feedback is about the grade.
2. **What is left is matched as a person reads it.** Every output line that
   holds a hidden line — as printed, folded (case, Unicode compatibility forms,
   zero-width and format characters and all whitespace removed), reversed,
   ROT13, Python-escaped, or inside a base64 (optionally zlib/gzip-compressed),
   base32 or hex token — is replaced with a note; and when the text of all those
   outputs read together (a line printed in two halves, in two outputs) shows a
   hidden line, every text output from the first hidden cell on is withheld.

Lines shorter than :attr:`RedactHiddenTests.min_chars` characters (``)``,
``else:``) are not secrets and are left alone. What it cannot catch — an
encoding of the student's own choosing in plain text — is the limit the
README states.

:class:`HonestScores` runs after nbgrader's ``GetGrades``: a written answer no
TA has graded yet says *awaiting grading* instead of a score of 0, the page's
total says how many points wait for a person, each test cell carries a
readable name (from its ``# graded: …`` first line), and the partial-credit
value the judge leaves for nbgrader's scoring (an ``execute_result`` such as
``Out[3]: 1``) is taken out: the judge's text already says what was right.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import gzip
import json
import re
import unicodedata
import zlib

import nbformat
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer, Unicode

from autograder.preprocessors.rubric import source_notebook_path

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
REDACTED = "[a line of hidden test code was removed from this feedback]"
WITHHELD = "[output withheld from this feedback: read together, it showed hidden test code]"

# -- the hidden lines ---------------------------------------------------------


def normalise(text: str) -> str:
    """Whitespace collapsed: how a hidden line is compared."""
    return " ".join(str(text).split())


def fold(text: str) -> str:
    """*text* as a reader sees it, for matching: compatibility forms unified, case folded,
    control, format (zero-width) and whitespace characters removed."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf", "Zs"))


def hidden_lines(source: str, min_chars: int) -> set[str]:
    """The (normalised) lines between the hidden-test markers of a cell source."""
    found: set[str] = set()
    inside = False
    for line in str(source).splitlines():
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside and len(normalise(line)) >= min_chars:
            found.add(normalise(line))
    return found


def notebook_hidden_lines(nb: NotebookNode, min_chars: int) -> set[str]:
    lines: set[str] = set()
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            lines |= hidden_lines(cell.get("source", ""), min_chars)
    return lines


# -- finding them in what the kernel printed ---------------------------------

_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
_BASE32 = re.compile(r"[A-Z2-7]{16,}=*")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}\s?){8,}")


def _decodings(line: str) -> list[str]:
    """*line* as printed and in the encodings a student would reach for first."""
    views = [line, line[::-1], codecs.encode(line, "rot13")]
    try:
        views.append(codecs.decode(line.encode("latin-1", "ignore"), "unicode_escape"))
    except (UnicodeDecodeError, ValueError):
        pass
    for token in _BASE64.findall(line):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            views += _texts(raw)
    for token in _BASE32.findall(line.upper()):
        try:
            views += _texts(base64.b32decode(token + "=" * (-len(token) % 8)))
        except (binascii.Error, ValueError):
            pass
    for token in _HEX.findall(line):
        try:
            views += _texts(bytes.fromhex(re.sub(r"\s", "", token)))
        except ValueError:
            pass
    return views


def _texts(raw: bytes) -> list[str]:
    texts = [raw.decode("utf-8", "ignore")]
    for inflate in (zlib.decompress, gzip.decompress, lambda b: zlib.decompress(b, -15)):
        try:
            texts.append(inflate(raw).decode("utf-8", "ignore"))
        except (zlib.error, OSError, EOFError, ValueError):
            pass
    return texts


def holds_hidden(line: str, hidden: set[str]) -> bool:
    """True when *line* (in any of the encodings above) contains a hidden line."""
    folded = [fold(secret) for secret in hidden]
    for view in _decodings(line):
        flat = normalise(view)
        if any(secret in flat for secret in hidden):
            return True
        flat = fold(view)
        if any(secret and secret in flat for secret in folded):
            return True
        # a source printed with repr() or json: its lines run together, split on escaped newlines
        if "\\n" in view and any(secret in normalise(part) for part in view.split("\\n") for secret in hidden):
            return True
    return False


def redact_text(text: str, hidden: set[str]) -> tuple[str, int]:
    """*text* with each line that holds a hidden line replaced; and how many were."""
    if not hidden or not text:
        return text, 0
    lines, count = [], 0
    for line in str(text).splitlines(keepends=True):
        if holds_hidden(line, hidden):
            ending = "\n" if line.endswith("\n") else ""
            lines.append(REDACTED + ending)
            count += 1
        else:
            lines.append(line)
    if count == 0 and holds_hidden(str(text), hidden):  # spread over lines: drop the whole text
        return REDACTED + "\n", 1
    return "".join(lines), count


def redact_output(output: NotebookNode, hidden: set[str]) -> tuple[NotebookNode, int]:
    kind = output.get("output_type")
    if kind == "stream":
        output.text, count = redact_text(output.get("text", ""), hidden)
        return output, count
    if kind == "error":
        total = 0
        output.evalue, total = redact_text(output.get("evalue", ""), hidden)
        traceback = []
        for line in output.get("traceback", []):
            line, count = redact_text(line, hidden)
            traceback.append(line)
            total += count
        output.traceback = traceback
        return output, total
    total = 0
    data = output.get("data", {})
    for mime in list(data):
        value = data[mime]
        if mime == "text/plain":
            data[mime], count = redact_text("".join(value) if isinstance(value, list) else str(value), hidden)
        elif isinstance(value, str) and mime.startswith(("text/", "image/svg")):
            count = 1 if holds_hidden(value, hidden) else 0
            if count:
                del data[mime]
        elif not isinstance(value, str):  # JSON (a recorded answer): not shown as HTML, but checked
            count = 1 if holds_hidden(json.dumps(value), hidden) else 0
            if count:
                del data[mime]
        else:
            count = 0
        total += count
    if total and "text/plain" not in data:
        data["text/plain"] = REDACTED
    return output, total


def _text_only(output: NotebookNode) -> NotebookNode | None:
    """*output* with only what reads as plain text (stream, error, ``text/plain``, a recorded answer)."""
    if output.get("output_type") in ("stream", "error"):
        return output
    data = output.get("data", {})
    kept = {mime: value for mime, value in data.items() if mime == "text/plain" or mime.endswith("+json")}
    if not kept:
        return None
    output.data = kept
    return output


def _output_text(output: NotebookNode) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind == "error":
        return str(output.get("evalue", "")) + "\n".join(map(str, output.get("traceback", [])))
    value = output.get("data", {}).get("text/plain", "")
    return "".join(value) if isinstance(value, list) else str(value)


def withhold_after_hidden(nb: NotebookNode, release_ids: set[str], hidden: set[str]) -> int:
    """Step 1 (and the joined reading of step 2) of the module's docstring; how many outputs went."""
    code = [cell for cell in nb.cells if cell.get("cell_type") == "code"]
    first = next((i for i, cell in enumerate(code) if BEGIN_HIDDEN in str(cell.get("source", ""))), None)
    if first is None:
        return 0
    removed = 0
    after = code[first:]
    for cell in after:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        before = len(cell.get("outputs", []))
        if grade_id not in release_ids:   # a cell the student added (or made up an id for)
            cell.outputs = []
        else:
            cell.outputs = [kept for kept in map(_text_only, cell.get("outputs", [])) if kept is not None]
        removed += before - len(cell.outputs)
    joined = "\n".join(_output_text(o) for cell in after for o in cell.get("outputs", []))
    if hidden and holds_hidden(joined, hidden):   # a line printed in parts: no part shows it, together they do
        for cell in after:
            kept = [o for o in cell.outputs if o.get("output_type") == "error" and _is_test(cell)]
            removed += len(cell.outputs) - len(kept)
            cell.outputs = kept + [from_dict({"output_type": "stream", "name": "stdout", "text": WITHHELD + "\n"})]
    return removed


def _is_test(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove every output line that shows a line of a hidden test (before ClearHiddenTests)."""

    min_chars = Integer(8, help="Hidden lines shorter than this (normalised) are not looked for.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden = notebook_hidden_lines(nb, self.min_chars)
        info = resources.get("nbgrader", {})
        release_ids: set[str] = set()
        if info.get("assignment") and info.get("notebook"):
            path = source_notebook_path(self.config, info["assignment"], info["notebook"])
            if path.exists():
                source = nbformat.read(str(path), as_version=4)
                hidden |= notebook_hidden_lines(source, self.min_chars)
                release_ids = {cell.metadata["nbgrader"]["grade_id"] for cell in source.cells
                               if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
        removed = 0
        for cell in nb.cells:
            outputs = []
            for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
                output, count = redact_output(output, hidden)
                removed += count
                outputs.append(output)
            if cell.get("cell_type") == "code":
                cell.outputs = outputs
        withheld = withhold_after_hidden(nb, release_ids, hidden)
        if withheld:
            self.log.info("Left %d output(s) made after hidden test code ran out of the feedback", withheld)
        if removed:
            self.log.warning("Removed %d output line(s) showing hidden test code from the feedback", removed)
        resources.setdefault("nbgrader", {})["hidden_lines_removed"] = removed
        return nb, resources


# -- honest scores ------------------------------------------------------------

_GRADED_LINE = re.compile(r"#\s*graded:\s*(?P<label>.+?)\s*(\(\s*[\d.]+\s*points?\s*\))?\s*$", re.IGNORECASE)


def cell_label(cell: NotebookNode) -> str:
    """A readable name: the cell's ``# graded: …`` first line, else its grade id."""
    first = str(cell.get("source", "")).strip().splitlines()[:1]
    match = _GRADED_LINE.match(first[0]) if first else None
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
    return match.group("label")[:80] if match else grade_id


class HonestScores(NbGraderPreprocessor):
    """Scores that say what they mean (after GetGrades)."""

    awaiting_text = Unicode("awaiting grading", help="Shown instead of a score no TA has given yet.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.setdefault("nbgrader", {})
        pending = self._pending(info)
        waiting_points, waiting = 0.0, []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade"):
                continue
            meta["label"] = cell_label(cell)
            meta["awaiting"] = meta.get("grade_id") in pending   # never what the notebook said
            if meta["awaiting"]:
                waiting_points += float(meta.get("points", 0) or 0)
                waiting.append(meta["label"])
            if cell.get("cell_type") == "code" and not is_solution(cell) and is_grade(cell):
                cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
        info["awaiting_points"] = waiting_points
        info["awaiting"] = waiting
        info["awaiting_text"] = self.awaiting_text
        return nb, resources

    @staticmethod
    def _pending(info: dict) -> set[str]:
        """Grade ids of this notebook that still need a person."""
        if not info.get("db_url"):
            return set()
        try:
            with Gradebook(info["db_url"]) as gradebook:
                notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                return {grade.name for grade in notebook.grades if grade.needs_manual_grade}
        except (MissingEntry, KeyError):
            return set()

