"""The service's durable journal: every submission seen and how far it got.

``<course root>/.serve/journal.db`` is a small SQLite file of its own (never
the gradebook), in WAL mode, written only by the service's main process in
short transactions, each a single state change. A submission moves

    queued → grading → graded → released
    queued → deferred → (when the rate limit allows) grading → …
    queued → superseded | closed          (a notice is released instead)

Restarted after a crash, the service reads this file: ``queued``/``deferred``
wait as before, ``grading`` is looked at again (the worker skips the grading
if the gradebook and feedback already hold this submission), ``graded`` is
released, and ``released`` is never touched again. ``events`` keeps one row
per step (``dispatched``, ``graded``, ``released``, ``notice:<kind>``), so what
happened to a submission can be read back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PENDING = ("queued", "deferred", "grading", "graded")
FINAL = ("released", "superseded", "closed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT PRIMARY KEY,          -- the inbound folder: student+assignment+timestamp+random
    student TEXT NOT NULL,
    assignment TEXT NOT NULL,
    timestamp TEXT NOT NULL,        -- nbgrader's timestamp.txt
    submitted REAL NOT NULL,        -- the same, as epoch seconds
    seen REAL NOT NULL,
    secret TEXT NOT NULL,           -- nbgrader's submission_secret.txt: names the released feedback
    notebooks TEXT NOT NULL,        -- JSON list of the notebook ids submitted
    state TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT 'course',   -- course | after-deadline
    not_before REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    score REAL, max_score REAL, problem TEXT, notes TEXT,
    notice TEXT,                    -- the last notice released for it (deferred, superseded, closed)
    released REAL
);
CREATE INDEX IF NOT EXISTS by_student ON submissions (student, assignment, submitted);
CREATE TABLE IF NOT EXISTS events (name TEXT NOT NULL, event TEXT NOT NULL, at REAL NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS refused (name TEXT PRIMARY KEY, at REAL NOT NULL, reason TEXT NOT NULL);
"""


@dataclass
class Entry:
    name: str
    student: str
    assignment: str
    timestamp: str
    submitted: float
    seen: float
    secret: str
    notebooks: str
    state: str
    target: str
    not_before: float | None
    attempts: int
    score: float | None
    max_score: float | None
    problem: str | None
    notes: str | None
    notice: str | None
    released: float | None

    @property
    def notebook_ids(self) -> list[str]:
        return json.loads(self.notebooks)

    @property
    def note_list(self) -> list[str]:
        return json.loads(self.notes) if self.notes else []


class Journal:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a state change survives a power cut, not just kill -9
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- reading ---------------------------------------------------------------
    def _entries(self, where: str = "1", args: tuple = ()) -> list[Entry]:
        rows = self.db.execute(f"SELECT {', '.join(Entry.__dataclass_fields__)} FROM submissions WHERE {where} "
                               "ORDER BY submitted, name", args).fetchall()
        return [Entry(*row) for row in rows]

    def get(self, name: str) -> Entry | None:
        found = self._entries("name = ?", (name,))
        return found[0] if found else None

    def known(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM submissions")}

    def refused(self) -> set[str]:
        """Inbound folders refused before they became submissions (a hostile name or secret)."""
        return {row[0] for row in self.db.execute("SELECT name FROM refused")}

    def in_state(self, *states: str) -> list[Entry]:
        return self._entries(f"state IN ({', '.join('?' * len(states))})", states)

    def of_student(self, student: str, assignment: str) -> list[Entry]:
        return self._entries("student = ? AND assignment = ?", (student, assignment))

    def queue_length(self) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM submissions WHERE state IN ({', '.join('?' * len(PENDING))})",
                               PENDING).fetchone()[0]

    def grading_starts(self, student: str, assignment: str | None = None) -> list[float]:
        """When each grading of this student's assignment (None: of every assignment) was dispatched
        (for the rate limits)."""
        rows = self.db.execute(  # a grading retried after a crash counts once
            "SELECT MIN(e.at) FROM events e JOIN submissions s ON s.name = e.name "
            "WHERE s.student = ? AND (? IS NULL OR s.assignment = ?) AND e.event = 'dispatched' GROUP BY e.name",
            (student, assignment, assignment))
        return [row[0] for row in rows]

    def events(self, name: str | None = None) -> list[tuple[str, str, float, str | None]]:
        if name is None:
            return self.db.execute("SELECT name, event, at, detail FROM events ORDER BY rowid").fetchall()
        return self.db.execute("SELECT name, event, at, detail FROM events WHERE name = ? ORDER BY rowid",
                               (name,)).fetchall()

    # -- writing (each call is one short transaction) --------------------------
    def add(self, name: str, student: str, assignment: str, timestamp: str, submitted: float, secret: str,
            notebooks: list[str]) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO submissions (name, student, assignment, timestamp, submitted, seen, secret, "
            "notebooks, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued')",
            (name, student, assignment, timestamp, submitted, time.time(), secret, json.dumps(notebooks)))
        return cursor.rowcount == 1

    def refuse(self, name: str, reason: str) -> None:
        """*name* (printable) is never taken: its folder could not be read safely."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO refused (name, at, reason) VALUES (?, ?, ?)",
                            (name, time.time(), reason))

    def update(self, name: str, event: str | None = None, detail: str | None = None, **values) -> None:
        if "notes" in values and isinstance(values["notes"], list):
            values["notes"] = json.dumps(values["notes"])
        with self.db:  # one transaction: the state and its event together
            self.db.execute("BEGIN IMMEDIATE")
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)
                self.db.execute(f"UPDATE submissions SET {assignments} WHERE name = ?", (*values.values(), name))
            if event:
                self.db.execute("INSERT INTO events (name, event, at, detail) VALUES (?, ?, ?, ?)",
                                (name, event, time.time(), detail))
