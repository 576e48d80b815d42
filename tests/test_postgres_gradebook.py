"""A PostgreSQL gradebook: a real server holds a graded class exactly as SQLite does.

The server is Debian's PostgreSQL (``./course`` installs the ``postgresql``
package), started by the fixture on a unix socket in a private folder.
"""

from __future__ import annotations

import csv
import sys

import pytest

from autograder.cluster.gradebook import GradebookError, check_gradebook, normalise_url
from autograder.pipeline import grade_class
from tests.servers import ASSIGNMENT, course_command, make_class, postgres_bin, postgres_server
from tests.conftest import needs_sandbox, requires

pytestmark = [pytest.mark.postgres, pytest.mark.sandbox]

needs_postgres = requires("PostgreSQL", postgres_bin() is not None, "needs Debian's postgresql package")
STUDENTS = 4


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


def rows(path, key=("student_id",)):
    with open(path) as handle:
        return sorted((dict(row) for row in csv.DictReader(handle)), key=lambda r: tuple(r[k] for k in key))


@pytest.fixture(scope="module")
def graded_both(postgres, tmp_path_factory):
    """The same class graded with a SQLite gradebook (the API) and a PostgreSQL one (the command)."""
    sqlite, kinds = make_class(tmp_path_factory.mktemp("sqlite-class"), STUDENTS)
    sqlite_report = grade_class(sqlite.course, ASSIGNMENT, workers=2)
    url = postgres.createdb("graded_class")
    pg, _ = make_class(tmp_path_factory.mktemp("pg-class"), STUDENTS, **{"CourseDirectory.db_url": url})
    done = course_command("grade", ASSIGNMENT, "--root", str(pg.root), "--db-url", url, "--workers", "2")
    return sqlite, sqlite_report, pg, url, done, kinds


@needs_postgres
@needs_sandbox
def test_postgres_gradebook_holds_the_class_as_sqlite_does(graded_both):
    sqlite, sqlite_report, pg, url, done, kinds = graded_both
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not (pg.root / "gradebook.db").exists()  # nothing went to SQLite
    scores = {r.student: r.score for r in sqlite_report.results}
    for student, kind in kinds.items():  # the typical mistake costs some points, not all
        assert {"correct": scores[student] == 12, "blank": scores[student] == 0,
                "mistake": 0 < scores[student] < 12}[kind], (student, scores[student])
    assert rows(sqlite.root / "grades.csv") == rows(pg.root / "grades.csv")
    cells = ("student", "cell")
    assert rows(sqlite.root / f"grades-{ASSIGNMENT}-cells.csv", cells) == \
        rows(pg.root / f"grades-{ASSIGNMENT}-cells.csv", cells)


@needs_postgres
@needs_sandbox
def test_the_rows_are_in_postgresql(graded_both):
    *_, url, done, kinds = graded_both
    import psycopg2

    query = url.removeprefix("postgresql://")
    user, rest = query.split("@/", 1)
    database, host = rest.split("?host=")
    with psycopg2.connect(dbname=database, user=user, host=host) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT student.id, COUNT(*) FROM submitted_assignment JOIN student "
                       "ON submitted_assignment.student_id = student.id GROUP BY student.id")
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT COUNT(*) FROM grade")
        (grades,) = cursor.fetchone()
    assert counts == {student: 1 for student in kinds}
    assert grades == len(kinds) * 6  # six graded cells in 02-signals, once per student


@needs_postgres
def test_a_plain_postgresql_url_works_as_written(postgres):
    url = postgres.createdb("plain_url")
    assert url.startswith("postgresql://")
    assert normalise_url(url).startswith("postgresql+psycopg2://")
    assert normalise_url("postgres://u@h/db").startswith("postgresql+psycopg2://")
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"  # as written
    assert normalise_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    check_gradebook(normalise_url(url))  # reachable: no error


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@needs_postgres
def test_an_unreachable_server_is_one_line(postgres, tmp_path):
    missing = postgres.url("no_such_database")
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--db-url", missing))
    assert "cannot open the gradebook" in line and "no_such_database" in line and "check that" in line
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--db-url",
                                         "postgresql://nobody:secret@127.0.0.1:1/gradebook"))
    assert "127.0.0.1" in line and "secret" not in line  # the password never reaches the screen


def test_a_missing_driver_is_one_line_saying_what_to_install(tmp_path):
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--db-url",
                                         "postgresql+pg8000://u@localhost/gradebook"))
    assert "pg8000 is not installed" in line and "pip install" in line
    # No PostgreSQL driver at all (psycopg2 blocked): a plain URL says to install the cluster extra.
    blocked = ("import sys; sys.modules['psycopg2'] = sys.modules['psycopg'] = None; "
               "from autograder.cli import main; sys.exit(main())")
    # (the same check guards `course export`)
    import subprocess

    result = subprocess.run([sys.executable, "-c", blocked, "grade", ASSIGNMENT, "--root", str(tmp_path),
                             "--db-url", "postgresql://u@localhost/gradebook"],
                            capture_output=True, text=True, timeout=120)
    line = one_line_error(result)
    assert "psycopg2 is not installed" in line and ".[cluster]" in line


def test_a_wrong_url_is_one_line(tmp_path):
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--db-url", "gradebook.db"))
    assert "not a database URL" in line and "postgresql://" in line
    with pytest.raises(GradebookError, match="unknown database"):
        normalise_url("mongodb://localhost/grades")
