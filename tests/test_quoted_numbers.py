"""Every result the notebooks' text quotes is the number the executed solution prints.

A number that the Markdown of a notebook presents as a result (an output of
the code, not a number the lesson sets) carries a marker right after it, an
HTML comment that the rendered notebook does not show::

    the slope becomes $0.3667$<!-- result: refine-slope "after the ladybird, L = 1 =" -->
    about 0.42<!-- result: experiment-hidden "hidden nodes 5:" --> with 5 nodes

The marker names the code cell (by its id) whose output holds the number, the
text in that output that the number follows, and, when several numbers follow
it (an array), which of them counts, from 0. The quoted number is the last
number before the marker in the same Markdown cell. It must equal the output
to the precision it is quoted with: "0.4773" stands for anything that rounds
to it, "3.9e11" for 3.85e11 to 3.95e11.

The Markdown is read from ``source/`` (it holds the mark schemes too), the
outputs from the executed solutions in ``solutions/``, which are what ``course
generate`` produced from ``source/`` (tests/test_assignments.py checks that):
so the text and the outputs of its code cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from autograder.course import REPOSITORY
from tests.conftest import course_assignments

ASSIGNMENTS = course_assignments()

MARKER = re.compile(r'<!--\s*result:\s*(?P<cell>[\w.-]+)\s+"(?P<label>[^"]+)"(?:\s+(?P<index>\d+))?\s*-->')
ANY_MARKER = re.compile(r"<!--\s*result\b.*?-->", re.DOTALL)
#: A number as the prose writes it: 0.4773, 23, 16,553 or 16{,}553, 3.9e11 or 3.9 \times 10^{11}.
PROSE_NUMBER = re.compile(r"(?<![\w.])(?P<sign>[-−])?(?P<mantissa>\d{1,3}(?:(?:,|\{,\})\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                          r"(?:e(?P<e>[+-]?\d+)|\s*\\times\s*10\^\{?(?P<power>[+-]?\d+)\}?)?")
#: A number as Python prints it: 0.42, 23., 1.    (NumPy), 158,800, 3.91592e+11, -0.04969.
OUTPUT_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d*)?(?:e[+-]?\d+)?")


@dataclass(frozen=True)
class Quote:
    """One quoted result: the number as written, and where its output is."""

    notebook: str
    markdown_cell: str
    text: str            # the number as the prose writes it
    value: Decimal
    tolerance: Decimal   # half a unit in the last quoted digit
    cell: str
    label: str
    index: int

    def __str__(self) -> str:
        return f"{self.notebook}, Markdown cell {self.markdown_cell!r}: {self.text} (output of {self.cell!r} after {self.label!r})"


def _prose_number(match: re.Match) -> tuple[Decimal, Decimal]:
    mantissa = match["mantissa"].replace("{,}", "").replace(",", "")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    power = int(match["e"] or match["power"] or 0)
    value = Decimal(mantissa).scaleb(power)
    if match["sign"]:
        value = -value
    return value, Decimal(5).scaleb(power - decimals - 1)


def quotes(path: Path) -> tuple[list[Quote], list[str]]:
    """The quoted results of the notebook at *path*, and the markers that cannot be read."""
    notebook = json.loads(path.read_text())
    found: list[Quote] = []
    problems: list[str] = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        cell_id = cell.get("id", "?")
        for marker in ANY_MARKER.finditer(source):
            if not MARKER.fullmatch(marker.group()):
                problems.append(f"{path.name}, Markdown cell {cell_id!r}: unreadable marker {marker.group()!r}")
        start = 0
        for marker in MARKER.finditer(source):
            before = source[start:marker.start()]
            start = marker.end()
            # The quoted number is the last one before the marker, on the marker's own line.
            numbers = list(PROSE_NUMBER.finditer(before.rsplit("\n", 1)[-1]))
            if not numbers:
                problems.append(f"{path.name}, Markdown cell {cell_id!r}: no number before {marker.group()!r}")
                continue
            value, tolerance = _prose_number(numbers[-1])
            found.append(Quote(path.name, cell_id, numbers[-1].group(), value, tolerance, marker["cell"],
                               marker["label"], int(marker["index"] or 0)))
    return found, problems


def output_text(cell: dict) -> str:
    """What a code cell showed as text: printed streams and plain-text results."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append("".join(output.get("text", "")))
        elif "data" in output and "text/plain" in output["data"]:
            parts.append("".join(output["data"]["text/plain"]))
    return "\n".join(parts)


def disagreements(path: Path, found: list[Quote] | None = None, *, executed: Path | None = None) -> list[str]:
    """Every quoted result in the Markdown of the notebook at *path* that the executed outputs do not bear out.

    The outputs are those of *executed* (by default *path* itself); *found* replaces the quotes read from *path*.
    """
    if found is None:
        found, problems = quotes(path)
    else:
        problems = []
    cells = {cell.get("id"): cell for cell in json.loads((executed or path).read_text())["cells"]
             if cell["cell_type"] == "code"}
    for quote in found:
        if quote.cell not in cells:
            problems.append(f"{quote}: there is no code cell {quote.cell!r}")
            continue
        text = output_text(cells[quote.cell])
        at = text.find(quote.label)
        if at < 0:
            problems.append(f"{quote}: the output does not contain {quote.label!r}")
            continue
        printed = OUTPUT_NUMBER.findall(text[at + len(quote.label):])
        if quote.index >= len(printed):
            problems.append(f"{quote}: the output has no number {quote.index} after the label")
            continue
        actual = Decimal(printed[quote.index].replace(",", ""))
        if abs(actual - quote.value) > quote.tolerance:
            problems.append(f"{quote}: the output says {printed[quote.index]}")
    return problems


def notebooks(assignment: str) -> list[tuple[Path, Path]]:
    """(source, executed solution) for each notebook of *assignment*.

    The Markdown is read from source/, which also holds what the solutions leave out (the mark schemes of
    written answers); the outputs come from the executed notebook in solutions/.
    """
    executed = sorted((REPOSITORY / "solutions" / assignment).glob("*.ipynb"))
    return [(REPOSITORY / "source" / assignment / path.name, path) for path in executed]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_quoted_result_equals_the_output_it_describes(assignment):
    pairs = notebooks(assignment)
    assert pairs, f"solutions/{assignment} holds no executed notebook: run `course generate {assignment}`"
    counted = 0
    for source, executed in pairs:
        counted += len(quotes(source)[0])
        assert disagreements(source, executed=executed) == []
    # Each assignment's text quotes results; a marker lost in an edit shows up here as a smaller count.
    assert counted >= 3


def _changed(quote: Quote) -> Quote:
    """The same quote with its last digit changed: off by a full unit of the precision it is quoted with."""
    last = PROSE_NUMBER.fullmatch(quote.text).end("mantissa") - 1
    text = quote.text[:last] + str((int(quote.text[last]) + 1) % 10) + quote.text[last + 1:]
    value, tolerance = _prose_number(PROSE_NUMBER.fullmatch(text))
    return Quote(quote.notebook, quote.markdown_cell, text, value, tolerance, quote.cell, quote.label, quote.index)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_changing_any_quoted_number_makes_the_check_fail(assignment):
    for source, executed in notebooks(assignment):
        found, _ = quotes(source)
        for number, quote in enumerate(found):
            edited = found[:number] + [_changed(quote)] + found[number + 1:]
            problems = disagreements(source, edited, executed=executed)
            assert len(problems) == 1 and problems[0].startswith(str(_changed(quote))), (quote, problems)


def _notebook(tmp_path: Path, markdown: str, printed: str) -> Path:
    path = tmp_path / "notebook.ipynb"
    path.write_text(json.dumps({"cells": [
        {"cell_type": "code", "id": "work", "metadata": {}, "source": "", "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]},
        {"cell_type": "markdown", "id": "prose", "metadata": {}, "source": markdown},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_quoted_number_is_judged_to_the_precision_it_is_written_with(tmp_path):
    printed = "ratio 0.47727272727272724\nerror after: 3.91592e+11\nx1 = [23. 12. 15. 21.]\ncount 158,800\n"
    fine = _notebook(tmp_path, 'the ratio is 0.4773<!-- result: work "ratio" --> and 0.48<!-- result: work "ratio" -->; '
                               'E grows to $3.9 \\times 10^{11}$<!-- result: work "after:" -->, or 3.9e11'
                               '<!-- result: work "after:" -->; $x_{1,2} = 12$<!-- result: work "x1 =" 1 -->; '
                               '$158{,}800$<!-- result: work "count" --> passes', printed)
    assert disagreements(fine) == []
    assert len(quotes(fine)[0]) == 6
    wrong = _notebook(tmp_path, 'the ratio is 0.4772<!-- result: work "ratio" -->, E grows to 4.0e11'
                                '<!-- result: work "after:" -->, and $x_{1,4} = 12$<!-- result: work "x1 =" 3 -->', printed)
    assert [problem.split(": ", 1)[1].split(" (")[0] for problem in disagreements(wrong)] == [
        "0.4772", "4.0e11", "12"]


def test_a_marker_whose_output_is_gone_is_reported(tmp_path):
    printed = "hidden errors: [0.42 0.88]\n"
    path = _notebook(tmp_path, 'errors 0.42<!-- result: work "input errors:" -->, 0.88<!-- result: gone "hidden errors:" 1 -->, '
                               '0.88<!-- result: work "hidden errors:" 5 -->, <!-- result: work "hidden errors:" -->, '
                               'and 0.42<!-- result work "typo" -->', printed)
    problems = disagreements(path)
    assert any("unreadable marker" in p for p in problems)
    assert any("no number before" in p for p in problems)
    assert any("does not contain 'input errors:'" in p for p in problems)
    assert any("no code cell 'gone'" in p for p in problems)
    assert any("no number 5 after the label" in p for p in problems)
    assert len(problems) == 5
