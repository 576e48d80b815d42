"""Hostile input before any sandbox: LMS zips, links in folders, student-chosen times.

Each archive is a real zip written here and taken in by the real intake
(nbgrader's ``zip_collect`` with the course's plugins); the folder class is
graded by the real pipeline in the sandbox. Every test checks the file system:
nothing is written outside the intake's own folders, and no target of a link
reaches ``submitted/``, the autograded notebook or the feedback.
"""

from __future__ import annotations

import csv
import os
import stat
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.course import REPOSITORY
from autograder.grading_session import ScratchCourse, fill_solutions
from autograder.intake import INTAKE, REFUSED, IntakeError, intake
from autograder.pipeline import grade_class

pytestmark = [pytest.mark.sandbox]

A = "02-signals"
KEY = REPOSITORY / "autograder" / "keys" / f"{A}.py"
KEY_MARKER = b"HAND_ROUNDING = 1.5e-3"


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under *folder* (links not followed) → (type, size, mtime)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            found[path.relative_to(folder).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return found


def changed(before: dict, after: dict) -> set[str]:
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


def outside_intake(paths: set[str], course_dir: str) -> set[str]:
    """Changed paths that are not the course's submitted/ or .grading/ records (or the course
    folder's own entry list, where the intake's scratch folder came and went)."""
    return {p for p in paths if not (p.startswith((f"{course_dir}/submitted/", f"{course_dir}/.grading/"))
                                     or p in (course_dir, f"{course_dir}/submitted", f"{course_dir}/.grading"))}


def file_bytes(folder: Path):
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                yield path, path.read_bytes()


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """A scratch course under its own folder (so the folder around it can be watched)."""
    top = tmp_path_factory.mktemp("lms")
    scratch = ScratchCourse(top / "course")
    scratch.release(A)
    return top, scratch


def take_in(lms, members, **course_overrides) -> tuple[dict, set[str]]:
    """Write a zip of *members* (name → bytes or ZipInfo, bytes), take it in; (notes, changed outside intake)."""
    top, scratch = lms
    course = scratch.course
    if course_overrides:
        from autograder.course import Course

        course = Course(scratch.root, **course_overrides)
    archive = top / f"export-{uuid.uuid4().hex[:6]}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    before = snapshot(top)
    try:
        notes = intake(course, A, archive)
    finally:
        after = snapshot(top)
    return notes, outside_intake(changed(before, after), "course")


def notebook_bytes(lms) -> bytes:
    return (lms[1].course.path("release", A) / "signals.ipynb").read_bytes()


def test_path_traversal_and_absolute_members_are_not_written(lms):
    top, scratch = lms
    absolute = f"/tmp/abs-{uuid.uuid4().hex}.txt"
    notes, outside = take_in(lms, [
        ("../../escaped.txt", b"out"), (absolute, b"out"), ("a/../../../x.txt", b"out"),
        ("../elsewhere/mallory_11_22_signals.ipynb", notebook_bytes(lms)),
        ("doejane_12345_678901_signals.ipynb", notebook_bytes(lms))])
    assert outside == set(), outside
    assert not Path(absolute).exists() and not (top.parent / "escaped.txt").exists()
    assert (scratch.course.path("submitted", "doejane", A) / "signals.ipynb").exists()
    warnings = "\n".join(notes[INTAKE])
    for name in ("../../escaped.txt", absolute, "a/../../../x.txt"):
        assert f"archive member {name!r} not unpacked: its path is absolute or leaves" in warnings
    assert any(n.startswith(REFUSED) and "leaves the archive" in n for n in notes["mallory"])
    assert not scratch.course.path("submitted", "mallory").exists()


def test_link_members_are_refused_for_their_student(lms):
    scratch = lms[1]
    link = zipfile.ZipInfo("linky_2_3_signals.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    info = zipfile.ZipInfo("linky_2_3_data.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    notes, outside = take_in(lms, [(link, "/etc/shadow"), (info, str(KEY)),
                                   ("okay_4_5_signals.ipynb", notebook_bytes(lms))])
    assert outside == set(), outside
    refusal = next(n for n in notes["linky"] if n.startswith(REFUSED))
    assert "it is a link, not a file" in refusal and "upload the notebook file itself" in refusal
    assert not scratch.course.path("submitted", "linky").exists()
    assert (scratch.course.path("submitted", "okay", A) / "signals.ipynb").exists()


def test_a_decompression_bomb_member_is_refused(lms):
    scratch = lms[1]
    notes, outside = take_in(lms, [("bomber_6_7_signals.ipynb", b"\0" * (60 * 2**20)),
                                   ("calm_8_9_signals.ipynb", notebook_bytes(lms))])
    assert outside == set(), outside
    refusal = next(n for n in notes["bomber"] if n.startswith(REFUSED))
    assert "decompression bomb" in refusal and "max_ratio" in refusal
    assert not scratch.course.path("submitted", "bomber").exists()
    assert (scratch.course.path("submitted", "calm", A) / "signals.ipynb").exists()


def test_an_archive_over_its_bounds_is_refused_whole(lms):
    members = [(f"s{i}_1_{i}_signals.ipynb", b"{}") for i in range(10_001)]
    with pytest.raises(IntakeError, match=r"more than 10000 members \(c.SafeExtractor.max_members\); nothing"):
        take_in(lms, members)
    assert not any(lms[1].course.path("submitted").glob("s1*"))
    with pytest.raises(IntakeError, match=r"unpacks to more than 1 MB \(c.SafeExtractor.max_total_mb\)"):
        take_in(lms, [("big_1_2_signals.ipynb", os.urandom(2 * 2**20))], **{"SafeExtractor.max_total_mb": 1})
    assert not lms[1].course.path("submitted", "big").exists()


def test_dot_and_dotdot_student_parts_are_listed_not_written(lms):
    top, scratch = lms
    notes, outside = take_in(lms, [(".._3_3_signals.ipynb", notebook_bytes(lms)),
                                   ("._4_4_signals.ipynb", notebook_bytes(lms)),
                                   ("ok-student_5_5_signals.ipynb", notebook_bytes(lms))])
    assert outside == set(), outside
    warnings = "\n".join(notes[INTAKE])
    assert "not graded: .._3_3_signals.ipynb: '..' is not a valid student id" in warnings
    assert "not graded: ._4_4_signals.ipynb: '.' is not a valid student id" in warnings
    assert not (scratch.course.path("submitted").parent / A).exists()
    assert not (scratch.course.path("submitted") / A).exists()
    assert (scratch.course.path("submitted", "ok-student", A) / "signals.ipynb").exists()


def test_the_cli_refuses_a_bounded_archive_in_one_line(lms, tmp_path, capsys):
    from autograder.cli import main

    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(10_001):
            zf.writestr(f"s{i}_1_{i}_signals.ipynb", b"{}")
    code = main(["grade", A, str(archive), "--root", str(lms[1].root), "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "many.zip refused: many.zip has more than 10000 members" in err[0]


# -- a class folder whose students hand in links (graded in the sandbox) ----------

def leaking(release, source) -> nbformat.NotebookNode:
    """A solved notebook that prints every file beside it: a followed link would show in the feedback."""
    notebook = fill_solutions(release, source)
    notebook.cells.insert(1, new_code_cell(
        "import pathlib\nfor p in sorted(pathlib.Path('.').rglob('*')):\n"
        "    if p.is_file():\n        print(p, p.read_bytes()[:4000])\nprint('LISTED', 'EVERYTHING')"))
    return notebook


@pytest.fixture(scope="module")
def linked_class(tmp_path_factory):
    top = tmp_path_factory.mktemp("links")
    scratch = ScratchCourse(top / "course", **{"Execute.timeout": 30})
    course = scratch.course
    release, source = scratch.release_notebook(A), scratch.source_notebook(A)
    secret = top / "root-only.txt"
    secret.write_text(f"SECRET-{uuid.uuid4().hex}")
    secret.chmod(0o600)
    shadow = Path("/etc/shadow")
    classroom = top / "class"

    def folder(student: str) -> Path:
        path = classroom / student / A
        path.mkdir(parents=True)
        nbformat.write(leaking(release, source), str(path / "signals.ipynb"))
        return path

    folder("amy")
    (folder("key-link") / "key.py").symlink_to(KEY)
    peer = classroom / "peer-link" / A
    peer.mkdir(parents=True)
    (peer / "signals.ipynb").symlink_to(classroom / "amy" / A / "signals.ipynb")
    (folder("root-link") / "data").mkdir()
    (classroom / "root-link" / A / "data" / "shadow.txt").symlink_to(shadow if shadow.exists() else secret)
    (folder("root-link2") / "secret.txt").symlink_to(secret)
    (folder("dangling") / "gone.csv").symlink_to(top / "does-not-exist.csv")
    os.link(secret, folder("hard-link") / "notes.txt")
    os.mkfifo(folder("fifo") / "pipe")
    (folder("dir-link") / "keys").symlink_to(KEY.parent, target_is_directory=True)
    (classroom / "whole-link").symlink_to(classroom / "amy", target_is_directory=True)
    (folder("own-stamp") / "timestamp.txt").write_text("2099-01-01 00:00:00")
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(A, duedate=datetime(2030, 1, 1))
    report = grade_class(course, A, classroom, workers=2)
    markers = [KEY_MARKER, secret.read_bytes()]
    if shadow.exists() and os.access(shadow, os.R_OK):
        markers.append(shadow.read_bytes().splitlines()[0])
    return scratch, report, markers


LINKED = {"key-link": "a link, key.py", "peer-link": "a link, signals.ipynb",
          "root-link": "a link, data/shadow.txt", "root-link2": "a link, secret.txt",
          "dangling": "a link, gone.csv", "hard-link": "a hard link, notes.txt",
          "fifo": "a FIFO (named pipe), pipe", "dir-link": "a link, keys",
          "whole-link": "a link instead of a folder"}


def test_links_are_refused_with_a_note_and_the_class_is_graded(linked_class):
    scratch, report, _ = linked_class
    results = {r.student: r for r in report.results}
    full = results["amy"].max_score
    assert results["amy"].score == full and results["amy"].problem is None
    assert results["own-stamp"].score == full
    for student, what in LINKED.items():
        assert results[student].status == "failed", student
        assert what in results[student].problem, (student, results[student].problem)
        assert not scratch.course.path("submitted", student).exists(), student
        assert not scratch.course.path("autograded", student).exists(), student
    assert "upload the notebook file itself" in results["key-link"].problem
    table = report.table()
    assert "your submission contained a link, key.py; upload the notebook file itself" in table
    with open(report.grades_csv) as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == A}
    assert float(rows["key-link"]["score"]) == 0 and float(rows["amy"]["score"]) == full


def test_no_target_of_a_link_reaches_the_course(linked_class):
    scratch, report, markers = linked_class
    leaked = [(path, marker) for path, data in file_bytes(scratch.root) for marker in markers if marker in data]
    assert leaked == []
    feedback = (scratch.course.path("feedback", "amy", A) / "signals.html").read_text()
    assert "LISTED EVERYTHING" in feedback   # the leaking cell ran: it shows what the sandbox had beside it


def test_a_students_own_timestamp_is_ignored(linked_class):
    scratch, report, _ = linked_class
    result = next(r for r in report.results if r.student == "own-stamp")
    assert any("timestamp.txt in the submission ignored" in n for n in result.notes)
    assert not (scratch.course.path("submitted", "own-stamp", A) / "timestamp.txt").exists()
    with scratch.course.gradebook() as gradebook:
        submission = gradebook.find_submission(A, "own-stamp")
        assert submission.timestamp is None and submission.late_submission_penalty == 0


def test_a_link_put_into_submitted_is_refused_before_grading(tmp_path):
    scratch = ScratchCourse(tmp_path / "course")
    scratch.release(A)
    folder = scratch.course.path("submitted", "sneak", A)
    folder.mkdir(parents=True)
    (folder / "signals.ipynb").symlink_to(KEY)
    notes = intake(scratch.course, A, None)
    assert notes["sneak"][0].startswith(REFUSED + "your submission contained a link, signals.ipynb")
    assert not folder.exists() and KEY.exists()


# -- times from an LMS zip ------------------------------------------------------------

def test_lms_times_late_marker_counts_and_student_timestamps_do_not(tmp_path):
    scratch = ScratchCourse(tmp_path / "course")
    course = scratch.course
    release, source = scratch.release_notebook(A), scratch.source_notebook(A)
    solved = nbformat.writes(fill_solutions(release, source)).encode()
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("latey_LATE_1_2_signals.ipynb", solved)            # late by Canvas, no time given
        zf.writestr("stampy_late_3_4_signals.ipynb", solved)           # late, and claims to be early
        zf.writestr("stampy_late_3_4_timestamp.txt", "2024-02-01 00:00:00")
        zf.writestr("future_5_6_signals.ipynb", solved)                # on time, claims to be far late
        zf.writestr("future_5_6_timestamp.txt", "2099-01-01 00:00:00")
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(A, duedate=datetime(2024, 3, 1, 12))
    report = grade_class(course, A, archive, workers=2)
    results = {r.student: r for r in report.results}
    full = results["future"].score                # solved and on time, whatever it claims
    penalty = round(full * 0.10, 2)                # one day late: 10 %
    assert {s: r.score for s, r in results.items()} == {"latey": full - penalty, "stampy": full - penalty,
                                                        "future": full}
    assert results["latey"].notes[0] == f"marked late by the LMS (no time given): −{penalty:g}"
    assert any("timestamp.txt in the upload ignored" in n for n in results["stampy"].notes)
    assert not (course.path("submitted", "future", A) / "timestamp.txt").exists()
    with open(report.grades_csv) as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == A}
    assert {s: float(rows[s]["score"]) for s in results} == {s: r.score for s, r in results.items()}
    assert float(rows["latey"]["late_submission_penalty"]) == pytest.approx(penalty)
    feedback = (course.path("feedback", "latey", A) / "signals.html").read_text()
    assert "marked this submission late and gave no time" in feedback and "10% of its points" in feedback
    assert "This submission was on time" in (course.path("feedback", "future", A) / "signals.html").read_text()
