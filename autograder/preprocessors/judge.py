"""JudgeAnswers: the nbgrader preprocessor that grades recorded answers.

It runs after nbgrader's ``Execute`` during ``autograde``. For each autograded
test cell it

1. reads the answers the cell recorded (display outputs of ``ANSWER_MIME``);
2. drops everything else the kernel claimed in that cell: errors, stderr,
   ``execute_result`` values (which nbgrader would read as partial credit);
   ordinary printed text stays, so students still see their own output;
3. runs the cell's test in the assignment's answer key, in this process;
4. writes the verdict as nbgrader reads it: no error for full marks, an
   ``execute_result`` holding the points for partial credit, an ``error``
   output with a helpful message for none.

The kernel's own asserts, tracebacks and exit status therefore never decide a
grade: only the key does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer, Unicode

from autograder import verdicts as verdict_store
from autograder.keyrunner import KEYS_DIRECTORY, CellVerdict, key_file, run_key
from exercises.answers import ANSWER_MIME, MAX_ANSWER_CHARS, decode

VERDICT_NAME = "WrongAnswer"
#: The answer under which a key finds its cell's wall time, measured by the grader (None: not measured).
#: Not an identifier, so no ``record()`` can make it; anything recorded under it is overwritten.
MEASURED_SECONDS = "grader.seconds"
#: The same for the whole notebook up to and including the cell: the sum of the grader's timings of every code
#: cell from the first to this one (None when one of them was not measured). A budget on it applies to work done
#: anywhere before the cell, so moving it into an earlier cell gains nothing.
MEASURED_SECONDS_SO_FAR = "grader.seconds_so_far"


def is_autograder_test(cell: NotebookNode) -> bool:
    """An nbgrader test cell: graded, code, and not a solution cell."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def autograded_ids(nb: NotebookNode) -> set[str]:
    """Grade ids of the cells the answer key judges."""
    return {cell.metadata.nbgrader.grade_id for cell in nb.cells if is_autograder_test(cell)}


def graded_ids(nb: NotebookNode) -> set[str]:
    """Grade ids of every graded cell: autograded tests and manually graded answers."""
    return {cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}


def read_answers(cell: NotebookNode) -> tuple[dict[str, Any], list[str]]:
    """The answers recorded in *cell*'s outputs, and problems found reading them."""
    answers: dict[str, Any] = {}
    problems: list[str] = []
    for output in cell.get("outputs", []):
        payload = output.get("data", {}).get(ANSWER_MIME) if output.get("output_type") == "display_data" else None
        if payload is None:
            continue
        try:
            if len(json.dumps(payload)) > MAX_ANSWER_CHARS:
                raise ValueError("it is too large to grade")
            name, value = str(payload["name"]), decode(payload["value"])
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"a recorded answer could not be read ({error}).")
            continue
        if name in answers and not _same(answers[name], value):
            problems.append(f"the answer {name!r} was recorded twice with different values.")
        answers[name] = value
    return answers, problems


def _same(a: Any, b: Any) -> bool:
    return json.dumps(_plain(a), sort_keys=True) == json.dumps(_plain(b), sort_keys=True)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return [str(getattr(value, "dtype", "")), value.tolist()]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _seconds_so_far(nb: NotebookNode) -> dict[str, float | None]:
    """For each graded cell, the grader's timings of every code cell up to and including it, summed."""
    total: float | None = 0.0
    sums: dict[str, float | None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        seconds = cell.get("metadata", {}).get("nn_course", {}).get("seconds")
        total = None if total is None or not isinstance(seconds, (int, float)) else total + float(seconds)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            sums[grade_id] = total
    return sums


def kernel_error(cell: NotebookNode) -> str | None:
    """'NameError: ...' when the kernel reported an error in *cell*."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    return None


def student_visible_outputs(cell: NotebookNode, limit: int) -> list[NotebookNode]:
    """What the student's code printed, as plain stdout text (never an error)."""
    kept: list[NotebookNode] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            text = output.get("text", "")
            if output.get("name") == "stderr":
                text = "".join("[stderr] " + line for line in text.splitlines(keepends=True))
            kept.append(from_dict({"output_type": "stream", "name": "stdout", "text": text[:limit]}))
        elif kind == "display_data" and ANSWER_MIME in output.get("data", {}):
            # The student's own recorded values stay, for the TA to audit.
            kept.append(from_dict({
                "output_type": "display_data", "metadata": {},
                "data": {ANSWER_MIME: output["data"][ANSWER_MIME],
                         "text/plain": str(output["data"].get("text/plain", ""))[:200]},
            }))
    return kept


def verdict_outputs(points: float, verdict: CellVerdict | None, reason: str | None) -> list[NotebookNode]:
    """The outputs through which nbgrader's own scoring reads the verdict."""
    if verdict is not None and verdict.total and verdict.passed == verdict.total:
        return [_text(f"✔ Correct ({points:g} of {points:g} points).")]
    if verdict is not None and verdict.passed:
        earned = round(points * verdict.fraction, 2)
        lines = [f"Partly correct: {verdict.passed} of {verdict.total} checks passed."]
        lines += [f"  ✘ {message}" for message in verdict.messages]
        return [
            _text("\n".join(lines)),
            from_dict({"output_type": "execute_result", "execution_count": None,
                       "metadata": {}, "data": {"text/plain": f"{earned:g}"}}),
        ]
    messages = verdict.messages if verdict is not None and verdict.messages else [reason or "no answer."]
    return [_error(messages)]


def cell_record(notebook: str, grade_id: str, points: float, verdict: CellVerdict | None,
                reason: str | None) -> verdict_store.CellRecord:
    """The key's verdict on one cell as data: outcome, named mistakes, messages."""
    if verdict is None or not verdict.total:
        return verdict_store.CellRecord(notebook, grade_id, points, 0, 0, "unanswered", [None],
                                        [reason or "no answer."])
    outcome = "full" if verdict.passed == verdict.total else "partial" if verdict.passed else "wrong"
    mistakes = list(verdict.mistakes) + [None] * (len(verdict.messages) - len(verdict.mistakes))
    return verdict_store.CellRecord(notebook, grade_id, points, verdict.passed, verdict.total, outcome,
                                    mistakes, list(verdict.messages))


def _text(text: str) -> NotebookNode:
    return from_dict({"output_type": "display_data", "metadata": {}, "data": {"text/plain": text}})


def _error(messages: list[str]) -> NotebookNode:
    evalue = " | ".join(messages)
    traceback = [f"\x1b[0;31m{VERDICT_NAME}\x1b[0m: {message}" for message in messages]
    return from_dict({"output_type": "error", "ename": VERDICT_NAME, "evalue": evalue, "traceback": traceback})


class JudgeAnswers(NbGraderPreprocessor):
    """Judge each autograded test cell's recorded answers with the answer key."""

    keys_directory = Unicode(
        str(KEYS_DIRECTORY),
        help="Folder holding one answer key per assignment: <assignment>.py.",
    ).tag(config=True)

    max_printed_chars = Integer(
        10_000, help="How much of a graded cell's printed text to keep in the graded notebook."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        assignment = resources["nbgrader"]["assignment"]
        cells = [cell for cell in nb.cells if is_autograder_test(cell)]
        if not cells:
            return nb, resources
        path = key_file(assignment, Path(self.keys_directory))
        if not path.exists():
            raise FileNotFoundError(
                f"No answer key for assignment {assignment!r}: expected {path}. "
                "Every assignment with autograded cells needs one (see README, 'Writing a graded cell')."
            )

        answers: dict[str, dict[str, Any]] = {}
        reasons: dict[str, str] = {}
        so_far = _seconds_so_far(nb)
        for cell in cells:
            grade_id = cell.metadata.nbgrader["grade_id"]
            recorded, problems = read_answers(cell)
            if problems:
                reasons[grade_id] = " ".join(problems)
            elif recorded:
                answers[grade_id] = recorded
                # The cell's wall time as the sandboxed executor measured it; never the kernel's word.
                recorded[MEASURED_SECONDS] = cell.get("metadata", {}).get("nn_course", {}).get("seconds")
                recorded[MEASURED_SECONDS_SO_FAR] = so_far.get(grade_id)
            else:
                error = kernel_error(cell)
                reasons[grade_id] = (
                    f"this cell stopped with {error} before it recorded an answer. "
                    "Fix the error (run the notebook from the top to see it)."
                    if error else
                    "this cell recorded no answer. Did the notebook stop early, or did the cell not run?"
                )

        verdicts, keyed = run_key(path, answers)
        records = []
        for cell in cells:
            grade_id = cell.metadata.nbgrader["grade_id"]
            points = float(cell.metadata.nbgrader.get("points", 0))
            if grade_id not in keyed:
                self.log.error("Answer key %s has no test_%s: cell scored 0", path.name, grade_id)
                reasons[grade_id] = "no answer key exists for this cell; please tell your instructor."
                verdict = None
            else:
                verdict = verdicts.get(grade_id)
            cell.outputs = student_visible_outputs(cell, self.max_printed_chars) + verdict_outputs(
                points, verdict, reasons.get(grade_id)
            )
            records.append(cell_record(resources["nbgrader"].get("notebook", ""), grade_id, points,
                                       verdict, reasons.get(grade_id)))
        self._store(resources, records)
        return nb, resources

    def _store(self, resources: ResourcesDict, records: list) -> None:
        """Keep the verdicts as data for ``course report`` (skipped outside a gradebook run)."""
        info = resources.get("nbgrader", {})
        if not info.get("db_url") or not info.get("student"):
            return
        course_id = self.config.get("CourseDirectory", {}).get("course_id", "") or ""
        try:
            verdict_store.save(info["db_url"], str(course_id), info["assignment"], info["student"],
                               info.get("notebook", ""), records)
        except Exception as error:  # the report loses this notebook's mistakes; the grade must not suffer
            self.log.warning("The key's verdicts for %s were not kept for `course report`: %s: %s",
                             info["student"], type(error).__name__, error)
