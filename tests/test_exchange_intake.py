"""Intake from an nbgrader exchange: students submit with nbgrader's own
``ExchangeSubmit``, the TA grades the exchange folder with ``grade_class``.

On a shared exchange each student's submission is written by their own Unix
user; here the test submits as root and then gives the inbound folder to the
student's uid (``CourseIntake.student_uids``), as the student's own
``nbgrader submit`` would have left it.
"""

from __future__ import annotations

import copy
import csv
import os
import pwd
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import submit as nbgrader_submit
from nbgrader.utils import parse_utc

from autograder.course import REPOSITORY, Course
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.intake import INTAKE, REFUSED, intake
from autograder.pipeline import grade_class
from tests.exchange_users import as_student

pytestmark = [pytest.mark.sandbox]

A = "02-signals"
KEY = REPOSITORY / "autograder" / "keys" / f"{A}.py"
UIDS = {"amy": 61001, "bo": 61002, "lin": 61003, "mallory": 61004}


def give_to(folder: Path, uid: int) -> None:
    """chown -R without following links: what the student's own user would own."""
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, uid)


def student_submits(course: Course, exchange, home, student: str, notebook, owner: str | None = None) -> Path:
    """What `nbgrader submit 02-signals` does for *student*, with nbgrader's own app; the inbound folder."""
    folder = home / student / A
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(folder / "signals.ipynb"))
    config = copy.deepcopy(course.config)
    config.Exchange.root = str(exchange)
    config.Exchange.cache = str(home / student / ".cache")
    config.CourseDirectory.root = str(home / student)
    config.CourseDirectory.assignment_id = A
    app = nbgrader_submit.ExchangeSubmit(coursedir=CourseDirectory(config=config),
                                         authenticator=Authenticator(config=config), config=config)
    app.coursedir.assignment_id = A
    app.assignment_dir = str(home / student)
    with as_student(nbgrader_submit, student):   # the OS user nbgrader would read
        app.start()
    inbound = Path(app.inbound_path) / app.assignment_filename
    give_to(inbound, UIDS.get(owner or student, 0) if owner != "nobody" else pwd.getpwnam("nobody").pw_uid)
    return inbound


def exchange_course(tmp_path, **overrides) -> tuple[ScratchCourse, Path]:
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    scratch = ScratchCourse(tmp_path / "course", **{"Exchange.root": str(exchange), **overrides})
    scratch.release(A)                                           # `nbgrader generate_assignment`
    released = scratch.course.api.release_assignment(A)          # the instructor's `nbgrader release_assignment`
    assert released["success"], released.get("log")
    return scratch, exchange


def test_an_exchange_is_collected_and_graded(tmp_path):
    scratch, exchange = exchange_course(tmp_path, **{"CourseIntake.student_uids": UIDS})
    release, source = scratch.release_notebook(A), scratch.source_notebook(A)
    student_submits(scratch.course, exchange, tmp_path / "homes", "amy", fill_solutions(release, source))
    student_submits(scratch.course, exchange, tmp_path / "homes", "bo", release)

    report = grade_class(scratch.course, A, exchange, workers=1)
    scores = {r.student: r.score for r in report.results}
    assert scores == {"amy": scratch.course.max_score(A), "bo": 0.0}
    assert "extra files" not in report.table()   # nbgrader's own timestamp and secret are not extras
    assert (scratch.course.path("feedback", "amy", A) / "signals.html").exists()


def test_the_default_rule_is_the_login_of_the_student(tmp_path):
    """No uid map: the owner's login must be the student id (``nobody`` exists on every machine)."""
    scratch, exchange = exchange_course(tmp_path)
    release = scratch.release_notebook(A)
    student_submits(scratch.course, exchange, tmp_path / "homes", "nobody", release, owner="nobody")
    student_submits(scratch.course, exchange, tmp_path / "homes", "amy", release, owner="root")
    notes = intake(scratch.course, A, exchange)
    assert (scratch.course.path("submitted", "nobody", A) / "signals.ipynb").exists()
    assert not scratch.course.path("submitted", "amy").exists()
    assert any("claims to be amy's but it belongs to Unix user root (uid 0), not amy "
               "(there is no Unix user amy): refused" in w for w in notes[INTAKE])


# -- a shared exchange with a planted and a linked submission ---------------------------

@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("shared")
    scratch, exchange = exchange_course(tmp_path, **{"CourseIntake.student_uids": UIDS})
    course = scratch.course
    release, source = scratch.release_notebook(A), scratch.source_notebook(A)
    homes = tmp_path / "homes"
    amy = student_submits(course, exchange, homes, "amy", fill_solutions(release, source))
    # mallory writes a folder under amy's name, later than amy's own
    student_submits(course, exchange, homes / "m", "amy", release, owner="mallory")
    # lin submits, then adds links to the inbound folder his user owns
    lin = student_submits(course, exchange, homes, "lin", fill_solutions(release, source))
    for name, target in [("key.py", KEY), ("shadow", Path("/etc/shadow")),
                         ("peer.ipynb", amy / "signals.ipynb"), ("gone.csv", tmp_path / "nothing")]:
        (lin / name).symlink_to(target)
        os.lchown(lin / name, UIDS["lin"], UIDS["lin"])
    report = grade_class(course, A, exchange, workers=2)
    return scratch, exchange, report, parse_utc(amy.name.split("+")[2])


def test_a_submission_planted_under_another_name_is_refused_and_reported(shared):
    scratch, _, report, _ = shared
    results = {r.student: r for r in report.results}
    assert results["amy"].score == results["amy"].max_score and results["amy"].status == "graded"
    assert any(n.startswith(REFUSED + "an exchange submission under your name was not made by your user")
               and "previous submission is graded instead" in n for n in results["amy"].notes)
    table = report.table()
    assert "WARNING: exchange submission 'amy+02-signals+" in table
    assert "belongs to uid 61004, not amy (uid 61001): refused, amy's previous submission is kept" in table
    assert "mallory" not in {r.student for r in report.results}


def test_exchange_links_are_refused_and_never_reach_the_course(shared):
    scratch, _, report, _ = shared
    lin = next(r for r in report.results if r.student == "lin")
    assert lin.status == "failed" and "your submission contained a link, gone.csv" in lin.problem
    assert "upload the notebook file itself (3 more)" in lin.problem
    assert not scratch.course.path("submitted", "lin").exists()
    key = KEY.read_bytes().splitlines()[-1]
    for dirpath, _, filenames in os.walk(scratch.root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink() and not dirpath.startswith(str(scratch.root / "source")):
                assert key not in path.read_bytes(), path


def test_a_new_due_date_reapplies_penalties_without_regrading(shared):
    scratch, exchange, first, submitted_at = shared
    course = scratch.course
    graded = course.path("autograded", "amy", A, "signals.ipynb")
    mtime = graded.stat().st_mtime_ns
    with course.gradebook() as gradebook:   # what `course grade A --due …` does
        gradebook.update_or_create_assignment(A, duedate=submitted_at - timedelta(days=2, hours=12))
    late = grade_class(course, A, exchange, workers=1)
    amy = next(r for r in late.results if r.student == "amy")
    assert amy.status == "unchanged" and graded.stat().st_mtime_ns == mtime
    full = next(r for r in first.results if r.student == "amy").score   # before: on time
    penalty = round(full * 0.30, 2)                # 2.5 days late: 3 started days × 10 %
    assert amy.score == pytest.approx(full - penalty) and amy.notes[0] == f"late by 3 day(s): −{penalty:g}"
    with open(late.grades_csv) as handle:
        row = next(r for r in csv.DictReader(handle) if r["student_id"] == "amy" and r["assignment"] == A)
    assert float(row["score"]) == pytest.approx(full - penalty)
    assert float(row["late_submission_penalty"]) == pytest.approx(penalty)
    assert "3 day(s) late" in (course.path("feedback", "amy", A) / "signals.html").read_text()

    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(A, duedate=submitted_at + timedelta(days=1))
    on_time = grade_class(course, A, exchange, workers=1)
    amy = next(r for r in on_time.results if r.student == "amy")
    assert amy.status == "unchanged" and amy.score == full and graded.stat().st_mtime_ns == mtime
    assert "This submission was on time" in (course.path("feedback", "amy", A) / "signals.html").read_text()


def test_a_backdated_exchange_submission_gets_the_time_its_files_changed(tmp_path):
    """The student owns their inbound folder: renaming it (and its timestamp.txt) to an early time is not believed."""
    scratch, exchange = exchange_course(tmp_path, **{"CourseIntake.student_uids": UIDS})
    inbound = student_submits(scratch.course, exchange, tmp_path / "homes", "amy", scratch.release_notebook(A))
    real = parse_utc(inbound.name.split("+")[2])
    early = "2024-01-01 00:00:00.000000 UTC"
    (inbound / "timestamp.txt").write_text(early)
    backdated = inbound.rename(inbound.with_name(f"amy+{A}+{early}+abc"))
    give_to(backdated, UIDS["amy"])
    notes = intake(scratch.course, A, exchange)
    assert any("claims 2024-01-01 00:00 UTC but its files were last changed at" in n for n in notes["amy"])
    written = parse_utc((scratch.course.path("submitted", "amy", A) / "timestamp.txt").read_text())
    assert abs((written - real).total_seconds()) < 120
