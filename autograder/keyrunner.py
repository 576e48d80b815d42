"""Run an assignment's answer key (a pytest file) against recorded answers.

Each graded cell ``<grade_id>`` has one test ``test_<grade_id>(answer)`` in
``autograder/keys/<assignment>.py``. The ``answer`` fixture holds what that
cell recorded. A parametrized test gives partial credit: the fraction of its
cases that pass. Tests run in this (the grader's) process with plain asserts,
so a failure message is exactly what the key wrote: no values are
introspected into it.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.checks import WrongAnswer

KEYS_DIRECTORY = Path(__file__).resolve().parent / "keys"


class RecordedAnswers(dict):
    """The answers one cell recorded, by name; a missing name fails clearly."""

    def __init__(self, cell: str, values: dict[str, Any]):
        super().__init__(values)
        self.cell = cell

    def __missing__(self, name: str) -> Any:
        recorded = ", ".join(sorted(self)) or "nothing"
        raise WrongAnswer(
            f"the cell did not record an answer named {name!r} (it recorded {recorded}). "
            "Run the whole notebook from the top and make sure this cell finishes."
        )


@dataclass
class CellVerdict:
    """How one graded cell fared against its key."""

    passed: int = 0
    total: int = 0
    messages: list[str] = field(default_factory=list)
    #: The named mistake each failed check matched (``None`` where it matched none), as data.
    mistakes: list[str | None] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


def cell_of(test_name: str) -> str:
    """The grade id that a key test belongs to: ``test_<grade_id>``."""
    return test_name.removeprefix("test_")


def key_file(assignment: str, directory: Path = KEYS_DIRECTORY) -> Path:
    return Path(directory) / f"{assignment}.py"


class _KeyPlugin:
    def __init__(self, answers: dict[str, dict[str, Any]]):
        self.answers = answers
        self.verdicts: dict[str, CellVerdict] = {}
        self.collected: set[str] = set()

    @pytest.fixture
    def answer(self, request: pytest.FixtureRequest) -> RecordedAnswers:
        cell = cell_of(request.node.originalname)
        return RecordedAnswers(cell, self.answers.get(cell, {}))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.collected = {cell_of(item.originalname) for item in items}
        items[:] = [item for item in items if cell_of(item.originalname) in self.answers]

    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> None:
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            verdict = self.verdicts.setdefault(cell_of(item.originalname), CellVerdict())
            verdict.total += 1
            if call.excinfo is None:
                verdict.passed += 1
                return
            error = call.excinfo.value
            case = f"[{item.callspec.id}] " if hasattr(item, "callspec") else ""
            if isinstance(error, AssertionError):
                message = str(error) or "the answer does not match the key."
            else:
                message = (
                    "the answer could not be checked "
                    f"({type(error).__name__}: {error}); check its type and shape."
                )
            verdict.messages.append(case + message)
            verdict.mistakes.append(getattr(error, "mistake", None))


def run_key(key_path: Path, answers: dict[str, dict[str, Any]]) -> tuple[dict[str, CellVerdict], set[str]]:
    """Judge *answers* (grade id → recorded values) with the key at *key_path*.

    Returns the verdict of every cell that recorded something, and the set of
    grade ids the key has tests for.
    """
    plugin = _KeyPlugin(answers)
    args = [
        str(key_path),
        "-c", str(Path(key_path).parent / "pytest.ini"),
        "--rootdir", str(Path(key_path).parent),
        "--import-mode=importlib",
        "--assert=plain",
        "-p", "no:cacheprovider",
        "-qq", "--no-header", "-s",
    ]
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        code = pytest.main(args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise RuntimeError(f"the answer key {key_path} could not run (pytest exit {int(code)}):\n{log.getvalue()}")
    return plugin.verdicts, plugin.collected
