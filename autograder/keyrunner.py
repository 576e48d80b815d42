"""Run an assignment's answer key (a pytest file) against recorded answers.

Each graded cell ``<grade_id>`` has one test ``test_<grade_id>(answer)`` in
``autograder/keys/<assignment>.py``. The ``answer`` fixture holds what that
cell recorded. A parametrized test gives partial credit: the fraction of its
cases that pass. Tests run in this (the grader's) process with plain asserts,
so a failure message is exactly what the key wrote: no values are
introspected into it.

A pytest session costs far more than judging one notebook (start-up,
collection, two full garbage collections on exit). Keys written as the
course writes them — module-level ``test_*`` functions taking ``answer``,
``recorded`` and ``pytest.mark.parametrize`` arguments — are therefore run
directly (:func:`_run_directly`) with pytest's semantics: the key's code is
compiled once per process and executed as a fresh module for every notebook
(as pytest's ``importlib`` import mode does), tests run in file order, each
case is one check, and case ids are pytest's. Any other pytest feature in a
key (its own fixtures, other marks, classes, a ``conftest.py``, options in
``pytest.ini``) sends it through pytest itself (:func:`run_key_with_pytest`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import types
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
        # the grader's own entries (grader.seconds) are not the student's names: not shown
        recorded = ", ".join(sorted(n for n in self if n.isidentifier())) or "nothing"
        raise WrongAnswer(
            f"the cell did not record an answer named {name!r} (it recorded {recorded}). "
            "Run the whole notebook from the top and make sure this cell finishes."
        )


class AllAnswers(dict):
    """Answers by grade id; a cell that recorded nothing has no answers."""

    def __missing__(self, cell: str) -> RecordedAnswers:
        return RecordedAnswers(cell, {})


_AllAnswers = AllAnswers  # the name the direct runner uses


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

    @pytest.fixture
    def recorded(self) -> dict[str, RecordedAnswers]:
        """What every graded cell recorded (grade id → answers; empty for a cell that recorded nothing).

        For a key that carries an earlier cell's error forward: it judges a later
        cell against the student's own earlier values only when the earlier cell's
        own recorded answers are wrong, so that mistake costs once.
        """
        return AllAnswers({cell: RecordedAnswers(cell, values) for cell, values in self.answers.items()})

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
            verdict.messages.append(case + _failure_message(error))
            verdict.mistakes.append(getattr(error, "mistake", None))


def run_key(key_path: Path, answers: dict[str, dict[str, Any]]) -> tuple[dict[str, CellVerdict], set[str]]:
    """Judge *answers* (grade id → recorded values) with the key at *key_path*.

    Returns the verdict of every cell that recorded something, and the set of
    grade ids the key has tests for.
    """
    direct = _run_directly(Path(key_path), answers)
    return direct if direct is not None else run_key_with_pytest(key_path, answers)


# -- the direct runner -------------------------------------------------------

#: Fixtures the direct runner provides (the plugin's), by name.
_FIXTURES = ("answer", "recorded")
_CODE: dict[Path, tuple[tuple[int, int], types.CodeType]] = {}


def _compiled(path: Path) -> types.CodeType:
    """The key's code, compiled once per process (again when the file changes)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _CODE.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, compile(path.read_bytes(), str(path), "exec", dont_inherit=True))
        _CODE[path] = cached
    return cached[1]


def _plain_ini(directory: Path) -> bool:
    ini = directory / "pytest.ini"
    lines = [line.strip() for line in ini.read_text().splitlines()] if ini.exists() else []
    return all(not line or line.startswith(("#", ";")) or line == "[pytest]" for line in lines)


def _case_id(value: Any) -> str | None:
    """pytest's id for one parametrize value, where it is simply the value (else None)."""
    if isinstance(value, str):
        return value if value and value.isascii() and value.isprintable() else None
    if isinstance(value, (bool, int, float)):
        return str(value)
    return None


def _plan(module: types.ModuleType) -> list[tuple[str, Any, list[tuple[str | None, dict]]]] | None:
    """(name, function, cases) for every test in file order, or None when pytest is needed.

    A case is (pytest's case id or None, the parametrize arguments).
    """
    if hasattr(module, "pytestmark"):
        return None
    tests = []
    for name, value in vars(module).items():
        if isinstance(value, type) and name.startswith("Test"):
            return None
        if type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction"):
            return None
        if not (name.startswith("test") and inspect.isfunction(value)):
            continue
        marks = getattr(value, "pytestmark", [])
        if any(mark.name != "parametrize" for mark in marks) or len(marks) > 1:
            return None
        cases: list[tuple[str | None, dict]] = [(None, {})]
        if marks:
            mark = marks[0]
            if mark.kwargs or len(mark.args) != 2 or not isinstance(mark.args[0], str) or "," in mark.args[0]:
                return None
            argname, values = mark.args[0].strip(), list(mark.args[1])
            ids = [_case_id(v) for v in values]
            if not values or None in ids or len(set(ids)) != len(ids):
                return None
            cases = [(case, {argname: v}) for case, v in zip(ids, values)]
        wanted = set(inspect.signature(value).parameters)
        given = set(_FIXTURES) | set(cases[0][1])
        if not wanted <= given or inspect.iscoroutinefunction(value):
            return None
        tests.append((name, value, cases))
    return tests


def _run_directly(key_path: Path, answers: dict[str, dict[str, Any]]):
    """The verdicts pytest would give, without a pytest session; None when the key needs pytest."""
    if (key_path.parent / "conftest.py").exists() or not _plain_ini(key_path.parent):
        return None
    name = f"autograder_key_{key_path.stem.replace('-', '_')}"
    module = types.ModuleType(name)
    module.__file__ = str(key_path)
    sys.modules[name] = module  # a fresh module for every notebook, as pytest's importlib mode gives
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            exec(_compiled(key_path), module.__dict__)
    except Exception as error:
        raise RuntimeError(f"the answer key {key_path} could not run ({type(error).__name__}: {error}):\n"
                           f"{log.getvalue()}") from error
    plan = _plan(module)
    if plan is None:
        return None
    plugin = _KeyPlugin(answers)
    plugin.collected = {cell_of(name) for name, _, _ in plan}
    for test_name, function, cases in plan:
        cell = cell_of(test_name)
        if cell not in answers:
            continue
        wanted = inspect.signature(function).parameters
        for case, arguments in cases:
            fixtures = {"answer": lambda: RecordedAnswers(cell, answers.get(cell, {})),
                        "recorded": lambda: _AllAnswers({c: RecordedAnswers(c, v) for c, v in answers.items()})}
            kwargs = {**{k: fixtures[k]() for k in wanted if k in fixtures}, **arguments}
            verdict = plugin.verdicts.setdefault(cell, CellVerdict())
            verdict.total += 1
            try:
                with contextlib.redirect_stdout(log):
                    function(**kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 — pytest too reports every failure of a test
                prefix = f"[{case}] " if case is not None else ""
                verdict.messages.append(prefix + _failure_message(error))
                verdict.mistakes.append(getattr(error, "mistake", None))
            else:
                verdict.passed += 1
    return plugin.verdicts, plugin.collected


def _failure_message(error: BaseException) -> str:
    if isinstance(error, AssertionError):
        return str(error) or "the answer does not match the key."
    return ("the answer could not be checked "
            f"({type(error).__name__}: {error}); check its type and shape.")


def run_key_with_pytest(key_path: Path, answers: dict[str, dict[str, Any]]) -> tuple[dict[str, CellVerdict], set[str]]:
    """:func:`run_key` through a pytest session of its own (any key pytest can run)."""
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
