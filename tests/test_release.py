"""``course release``: one command from the TA folder to the exchange, with nbgrader's own apps.

The exchange is a fresh folder; a "student" fetches with nbgrader's own
``ExchangeFetchAssignment``, so the release is what nbgrader's Assignment List
would list. (On a real hub, tests/test_hub.py fetches it in a browser.)
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.course import REPOSITORY

pytestmark = [pytest.mark.slow]

A = "02-signals"


def course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=REPOSITORY, timeout=600)


@pytest.fixture(scope="module")
def released():
    base = Path(tempfile.mkdtemp(prefix="course-release-"))
    os.chmod(base, 0o755)   # students reach the exchange through it
    root, exchange = base / "grading", base / "exchange"
    run = course("release", A, "--root", str(root), "--exchange", str(exchange))
    yield root, exchange, run
    shutil.rmtree(base)


def test_release_generates_in_the_ta_folder_and_puts_the_notebooks_on_the_exchange(released):
    root, exchange, run = released
    assert run.returncode == 0, run.stderr
    outbound = exchange / "nn-from-first-principles" / "outbound" / A
    assert sorted(p.name for p in outbound.iterdir()) == ["signals.ipynb"]
    assert (outbound / "signals.ipynb").read_bytes() == (root / "release" / A / "signals.ipynb").read_bytes()
    assert f"released {A} (signals.ipynb) to {outbound}" in run.stdout
    assert "Assignment List" in run.stdout and f"nbgrader fetch_assignment --course nn-from-first-principles {A}" \
        in run.stdout
    from autograder.course import Course

    with Course(root).gradebook() as gradebook:   # formgrader and course serve know it
        assert gradebook.find_assignment(A).name == A


def test_the_folders_students_write_into_have_the_sticky_bit(released):
    _, exchange, _ = released
    for folder in (exchange, exchange / "nn-from-first-principles" / "inbound"):
        mode = folder.stat().st_mode
        assert mode & stat.S_ISVTX, f"{folder}: {mode:o}"
        assert mode & stat.S_IWOTH and mode & stat.S_IXOTH
    inbound = (exchange / "nn-from-first-principles" / "inbound").stat().st_mode
    assert not inbound & stat.S_IROTH, "students must not list each other's submissions"


def test_a_student_fetches_the_release_with_nbgrader(released, tmp_path, monkeypatch):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
    from traitlets.config import Config

    _, exchange, _ = released
    config = Config()
    config.Exchange.root = str(exchange)
    config.CourseDirectory.course_id = "nn-from-first-principles"
    config.CourseDirectory.assignment_id = A
    monkeypatch.chdir(tmp_path)
    coursedir = CourseDirectory(config=config, root=str(tmp_path))
    ExchangeFetchAssignment(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
    assert (tmp_path / A / "signals.ipynb").is_file()


def test_releasing_again_needs_force(released):
    root, exchange, _ = released
    again = course("release", A, "--root", str(root), "--exchange", str(exchange))
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (f"error: {A} is already on the exchange; add --force to "
                                                      "release it again (students who fetched it keep their copy)")
    forced = course("release", A, "--root", str(root), "--exchange", str(exchange), "--force")
    assert forced.returncode == 0, forced.stderr


def test_a_misspelled_assignment_or_a_missing_exchange_parent_gets_one_line(tmp_path):
    wrong = course("release", "02-signal", "--root", str(tmp_path / "grading"), "--exchange", str(tmp_path / "x"))
    assert wrong.returncode == 2 and "did you mean 02-signals?" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not (tmp_path / "grading").exists()
    nowhere = course("release", A, "--root", str(tmp_path / "grading"), "--exchange", "/nonexistent/dir/exchange")
    assert nowhere.returncode == 2 and "no folder /nonexistent/dir" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def test_an_exchange_students_cannot_reach_is_named(tmp_path):
    os.chmod(tmp_path, 0o700)
    run = course("release", A, "--root", str(tmp_path / "grading"), "--exchange", str(tmp_path / "exchange"))
    assert run.returncode == 2
    assert f"students cannot reach {tmp_path} (mode 700): chmod o+rx {tmp_path}" in run.stderr
