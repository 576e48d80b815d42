"""Grading on a Dask cluster from the command line: the same grades, nothing lost when a worker dies.

The scheduler and its workers are separate OS processes (``dask scheduler``,
``dask worker``), as on separate machines; the TA's side is the real
``course grade --scheduler …`` in a subprocess.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import time

import psutil
import pytest

from autograder.cluster.executors import ClusterError, is_local, parse_cluster, worker_hosts
from autograder.pipeline import grade_class
from tests.servers import ASSIGNMENT, BIN, course_command, dask_cluster, make_class
from tests.conftest import needs_sandbox

pytestmark = [pytest.mark.cluster, pytest.mark.sandbox]

STUDENTS = 5


def rows(path, key):
    with open(path) as handle:
        return sorted((dict(row) for row in csv.DictReader(handle)), key=lambda r: tuple(r[k] for k in key))


def outcome(root):
    """The grades CSV and the per-cell CSV of a graded course."""
    return (rows(root / "grades.csv", ("student_id",)),
            rows(root / f"grades-{ASSIGNMENT}-cells.csv", ("student", "cell")))


def gradebook_counts(root) -> tuple[dict[str, int], dict[str, int]]:
    """Per student: rows of submitted_assignment, and rows of grade (over all its notebooks)."""
    with sqlite3.connect(root / "gradebook.db") as db:
        submissions = dict(db.execute("SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"))
        grades = dict(db.execute(
            "SELECT submitted_assignment.student_id, COUNT(*) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "GROUP BY submitted_assignment.student_id"))
    return submissions, grades


@pytest.fixture(scope="module")
def local_pool_outcome(tmp_path_factory):
    scratch, kinds = make_class(tmp_path_factory.mktemp("local-pool"), STUDENTS)
    report = grade_class(scratch.course, ASSIGNMENT, workers=2)
    assert not report.failed
    return outcome(scratch.root), {r.student: r.score for r in report.results}, kinds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with dask_cluster(2, tmp_path_factory.mktemp("dask")) as running:
        yield running


@needs_sandbox
def test_a_dask_cluster_grades_as_the_local_pool_does(cluster, local_pool_outcome, tmp_path):
    expected, scores, kinds = local_pool_outcome
    scratch, _ = make_class(tmp_path / "course", STUDENTS)
    done = course_command("grade", ASSIGNMENT, "--root", str(scratch.root), "--scheduler", cluster.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"grading on Dask scheduler {cluster.address}, 2 worker(s)" in done.stdout
    assert "Traceback" not in done.stderr
    assert outcome(scratch.root) == expected
    assert scores[next(s for s, k in kinds.items() if k == "correct")] == 12
    submissions, _ = gradebook_counts(scratch.root)
    assert submissions == {student: 1 for student in kinds}


def _busy_worker(cluster) -> psutil.Process | None:
    """A ``dask worker`` whose sandboxed kernel is running (it is grading a notebook now)."""
    for process in cluster.workers:
        try:
            descendants = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in descendants:
            try:
                if "ipykernel" in " ".join(child.cmdline()):
                    return psutil.Process(process.pid)
            except psutil.Error:
                continue
    return None


@needs_sandbox
def test_a_worker_killed_while_grading_costs_no_submission(cluster, local_pool_outcome, tmp_path):
    expected, _, kinds = local_pool_outcome
    scratch, _ = make_class(tmp_path / "course", STUDENTS)
    import subprocess

    grading = subprocess.Popen([str(BIN / "course"), "grade", ASSIGNMENT, "--root", str(scratch.root),
                                "--scheduler", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline and grading.poll() is None:
        victim = _busy_worker(cluster)
        time.sleep(0.1)
    assert victim is not None, "no worker ever ran a notebook"
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its nanny: as if its machine died
    out, err = grading.communicate(timeout=900)
    assert grading.returncode == 0, out + err
    assert "Traceback" not in err
    assert "retried after a worker was lost" in out, out
    assert outcome(scratch.root) == expected  # every grade as without the lost worker
    submissions, grades = gradebook_counts(scratch.root)
    assert submissions == {student: 1 for student in kinds}  # graded exactly once each
    assert grades == {student: 6 for student in kinds}  # six graded cells, once each
    assert not (scratch.root / ".grading" / "attempts").exists() or \
        not any((scratch.root / ".grading" / "attempts").iterdir())


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path),
                                         "--scheduler", "tcp://127.0.0.1:1"))
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in line and "dask scheduler" in line


def test_a_wrong_cluster_is_one_line(tmp_path):
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--cluster", "lokal:2"))
    assert "'local' or 'local:N'" in line
    line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path), "--cluster", "local",
                                         "--scheduler", "tcp://127.0.0.1:1"))
    assert "not both" in line
    assert parse_cluster("local") is None and parse_cluster("local:3") == 3
    with pytest.raises(ClusterError):
        parse_cluster("local:0")


def test_sqlite_is_refused_when_workers_are_on_other_machines(tmp_path):
    # The workers say they are at 10.255.255.1 (another machine) while listening here.
    with dask_cluster(1, tmp_path / "dask", contact_host="10.255.255.1") as remote:
        line = one_line_error(course_command("grade", ASSIGNMENT, "--root", str(tmp_path / "course"),
                                             "--scheduler", remote.address))
    assert "the gradebook is SQLite" in line and "10.255.255.1" in line and "postgresql://" in line
    assert worker_hosts(["tcp://10.0.0.2:4000", "tcp://[::1]:5"]) == {"10.0.0.2", "[::1]"}
    assert is_local("127.0.0.1") and is_local("[::1]") and not is_local("10.255.255.1", set())


@needs_sandbox
def test_a_local_dask_cluster_from_the_command_line(local_pool_outcome, tmp_path):
    expected, _, _ = local_pool_outcome
    scratch, _ = make_class(tmp_path / "course", STUDENTS)
    done = course_command("grade", ASSIGNMENT, "--root", str(scratch.root), "--cluster", "local:2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "grading on Dask LocalCluster, 2 worker process(es)" in done.stdout
    assert "Traceback" not in done.stderr
    assert outcome(scratch.root) == expected
