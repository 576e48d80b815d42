"""VerdictsFirst: a feedback page a student reads in ten seconds.

Runs after :class:`~autograder.preprocessors.sanitize.SanitizeStudentContent`
in ``generate_feedback``. For every graded cell it takes the judge's verdict
out of the cell's outputs (nbgrader has already read the score from them) and
puts it in the cell's metadata as ``verdict``: its kind (``full``,
``partial``, ``none``, ``awaiting``), a headline, and the reasons, one line
each. The template shows it first, styled, directly under the cell's header;
what the test cell printed besides (the "recorded …" lines, the visible
checks' ticks) is marked ``fold`` and folded into a ``<details>`` element,
which opens without a script.

The page's summary comes from the same data: ``resources["nbgrader"]["lost"]``
lists the graded cells that lost points, each with its reason and anchor.
"""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.preprocessors.judge import VERDICT_NAME

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: The key's test name the runner puts before a message ("[example] …"): not for students.
_TEST_NAME = re.compile(r"^\s*\[[A-Za-z0-9_.\-]+\]\s*")


def _clean(line: str) -> str:
    line = _TEST_NAME.sub("", _ANSI.sub("", str(line))).strip()
    return re.sub(r"\.\.(?=\s|$)", ".", line)   # "got 1." + "." reads as one sentence end


def _is_verdict(output: NotebookNode) -> bool:
    kind = output.get("output_type")
    if kind == "error":
        return True
    text = str(output.get("data", {}).get("text/plain", "")) if kind == "display_data" else ""
    return text.startswith(("✔ Correct", "Partly correct"))


def _reasons(outputs: list[NotebookNode]) -> list[str]:
    reasons: list[str] = []
    for output in outputs:
        if output.get("output_type") == "error":
            if output.get("ename") == VERDICT_NAME:
                lines = [_ANSI.sub("", line).split(": ", 1)[-1] for line in output.get("traceback", [])]
                reasons += [_clean(line) for line in lines if line.strip()]
            else:   # the cell stopped: say how, without the traceback's frames
                reasons.append(_clean(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"))
        else:
            text = str(output.get("data", {}).get("text/plain", ""))
            reasons += [_clean(line.strip().removeprefix("✘")) for line in text.splitlines()
                        if line.strip().startswith("✘")]
    reasons = list(dict.fromkeys(r for r in reasons if r))
    # a named mistake says more than the crash a later case ran into: it comes first
    return sorted(reasons, key=lambda reason: "your function raised" in reason)


def verdict(meta: dict, outputs: list[NotebookNode]) -> dict:
    """The cell's verdict: kind, headline and reasons."""
    points, score = float(meta.get("points", 0) or 0), float(meta.get("score", 0) or 0)
    if meta.get("awaiting"):
        return {"kind": "awaiting", "headline": f"Awaiting grading by a TA (out of {points:g} points).", "reasons": []}
    reasons = _reasons(outputs)
    if score >= points:
        return {"kind": "full", "headline": f"Full marks: {score:g} of {points:g} points.", "reasons": []}
    if score > 0:
        return {"kind": "partial", "headline": f"Partly right: {score:g} of {points:g} points.", "reasons": reasons}
    return {"kind": "none", "headline": f"No points: 0 of {points:g}.", "reasons": reasons}


class VerdictsFirst(NbGraderPreprocessor):
    """Each graded cell's verdict first, its detail folded; a summary of the cells that lost points."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        lost = []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or not meta.get("grade_id"):
                continue
            outputs = list(cell.get("outputs", [])) if cell.get("cell_type") == "code" else []
            test_cell = cell.get("cell_type") == "code" and not meta.get("solution")
            if test_cell:
                cell.outputs = [o for o in outputs if not _is_verdict(o)]
                meta["fold"] = bool(cell.outputs)
            meta["verdict"] = verdict(meta, [o for o in outputs if _is_verdict(o)] if test_cell else [])
            if meta["verdict"]["kind"] in ("partial", "none"):
                reasons = meta["verdict"]["reasons"]
                lost.append({"grade_id": meta["grade_id"], "label": meta.get("label") or meta["grade_id"],
                             "score": float(meta.get("score", 0) or 0), "points": float(meta.get("points", 0) or 0),
                             "reason": reasons[0] if reasons else ("see the TA's comment" if meta.get("comment")
                                                                   else "")})
        resources.setdefault("nbgrader", {})["lost"] = lost
        return nb, resources
