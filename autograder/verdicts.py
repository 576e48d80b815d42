"""What the answer keys said about each graded cell, kept as data.

nbgrader's gradebook keeps a score per cell. The keys know more: which named
mistake a wrong answer matched ("W is typed transposed"), or that a cell
recorded nothing at all. :class:`JudgeAnswers` stores that here, in a table of
its own beside nbgrader's in the same gradebook database (SQLite or
PostgreSQL), so every grading worker — local, on a Dask cluster or in the
feedback service — writes it where ``course report`` reads it.

Only the grading process writes these rows, from the key's verdict; nothing
the student's kernel said is stored, so a submission cannot plant a mistake
in the class's report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, create_engine, delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

#: How a cell fared: every check passed, some, none; or nothing was recorded to judge.
OUTCOMES = ("full", "partial", "wrong", "unanswered")

_metadata = MetaData()
verdict_table = Table(
    "course_verdict", _metadata,
    Column("course", String(128), nullable=False),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("cell", String(128), nullable=False),
    Column("points", Float, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("mistakes", Text, nullable=False),   # JSON list of named-mistake ids (null: unnamed)
    Column("messages", Text, nullable=False),   # JSON list: what the student was told, per failed check
    Column("graded_at", DateTime, nullable=False),
)


@dataclass
class CellRecord:
    """One graded cell of one submission, as the key judged it."""

    notebook: str
    cell: str
    points: float
    passed: int
    total: int
    outcome: str
    mistakes: list[str | None] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    student: str = ""
    assignment: str = ""

    @property
    def named_mistakes(self) -> list[str]:
        return [m for m in self.mistakes if m]


def _engine(db_url: str):
    return create_engine(db_url)


def _create_table(connection) -> None:
    """The table, if it is not there yet: safe when several workers start at once."""
    connection.execute(CreateTable(verdict_table, if_not_exists=True))


def ensure_table(db_url: str) -> None:
    """Create the table before grading starts (the pipeline does, once, before its workers)."""
    engine = _engine(db_url)
    try:
        with engine.begin() as connection:
            _create_table(connection)
    finally:
        engine.dispose()


def save(db_url: str, course: str, assignment: str, student: str, notebook: str,
         records: list[CellRecord], attempts: int = 5) -> None:
    """Replace the stored verdicts of one submitted notebook with *records*.

    One transaction; a database that is busy with another worker's write is
    tried again a few times (SQLite serialises writers).
    """
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{"course": course, "assignment": assignment, "student": student, "notebook": notebook,
             "cell": r.cell, "points": r.points, "passed": r.passed, "total": r.total, "outcome": r.outcome,
             "mistakes": json.dumps(r.mistakes), "messages": json.dumps(r.messages), "graded_at": now}
            for r in records]
    engine = _engine(db_url)
    try:
        for attempt in range(attempts):
            try:
                with engine.begin() as connection:
                    _create_table(connection)
                    connection.execute(delete(verdict_table).where(
                        (verdict_table.c.course == course) & (verdict_table.c.assignment == assignment)
                        & (verdict_table.c.student == student) & (verdict_table.c.notebook == notebook)))
                    if rows:
                        connection.execute(verdict_table.insert(), rows)
                return
            except OperationalError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
    finally:
        engine.dispose()


def load(db_url: str, course: str, assignment: str) -> list[CellRecord]:
    """Every stored verdict of *assignment* (empty when nothing was judged yet)."""
    engine = _engine(db_url)
    try:
        with engine.begin() as connection:
            _create_table(connection)
        query = select(verdict_table).where((verdict_table.c.course == course)
                                            & (verdict_table.c.assignment == assignment))
        with engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
    finally:
        engine.dispose()
    return [CellRecord(notebook=row["notebook"], cell=row["cell"], points=row["points"], passed=row["passed"],
                       total=row["total"], outcome=row["outcome"], mistakes=json.loads(row["mistakes"]),
                       messages=json.loads(row["messages"]), student=row["student"], assignment=row["assignment"])
            for row in rows]
