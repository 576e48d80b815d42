"""The smaller rules a hostile student tested: each one attacked directly.

- :mod:`autograder.safefiles` reads a student's file without following,
  blocking or reading past its bound, and names are checked before use;
- the SVG sanitiser keeps neither ``style`` nor ``id``;
- preflight type-checks every nbformat field and gives a student cell holding
  nbgrader's hidden-test markers a one-line reason;
- an LMS zip is refused whole only for archive-level problems: one student's
  oversized member refuses that student;
- an exchange submission dated a few minutes early gets the time its files changed.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from autograder.intake import REFUSED, intake
from autograder.preflight import inspect_notebook
from autograder.preprocessors.sanitize import clean_svg
from autograder.safefiles import (UnsafeSubmission, copy_tree_safely, file_name_problem, name_problem, printable,
                                  read_student_file, student_entries)
from tests.test_exchange_intake import UIDS, exchange_course, give_to, student_submits
from tests.test_intake_hostile import lms, notebook_bytes, take_in  # noqa: F401  (lms: the fixture)

A = "02-signals"
REPOSITORY = Path(__file__).resolve().parents[1]


# -- safefiles ------------------------------------------------------------------

def test_names_that_are_not_utf8_or_hold_control_characters_are_refused_and_shown_escaped():
    bad = os.fsdecode(b"amy\xff\xfe")
    assert "not valid UTF-8" in name_problem(bad)
    assert "control characters" in name_problem("amy\x1b[31m")
    assert "control characters" in name_problem("a\u202egnp.exe")   # right-to-left override
    assert name_problem("Copy of signals (1).ipynb") is None
    assert file_name_problem("x" * 300)
    assert printable(bad) == "amy\\xff\\xfe" and printable("a\x1bb") == "a\\x1bb"


@pytest.fixture
def root(tmp_path) -> Path:
    folder = tmp_path / "inbound" / "amy"
    folder.mkdir(parents=True)
    (folder / "ok.txt").write_text("fine")
    return tmp_path / "inbound"


def test_a_student_file_is_read_only_when_it_is_a_small_regular_file_of_its_owner(root, tmp_path):
    assert read_student_file(root, "amy", "ok.txt", max_bytes=10) == b"fine"
    secret = tmp_path / "secret"
    secret.write_text("the grader's")
    folder = root / "amy"
    os.mkfifo(folder / "fifo")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "link").symlink_to(secret)
    os.link(secret, folder / "hard")
    (folder / "big").write_bytes(b"x" * 11)
    (folder / "dir").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    (root / "linked").symlink_to(folder)
    expected = {"fifo": "FIFO", "zero": "a link", "link": "a link", "hard": "hard link", "big": "11 bytes",
                "dir": "a folder", "sock": "a socket"}
    for name, why in expected.items():
        with pytest.raises(UnsafeSubmission, match=why):
            read_student_file(root, "amy", name, max_bytes=10)
    with pytest.raises(UnsafeSubmission, match="a link instead of a folder"):
        read_student_file(root, "linked", "ok.txt", max_bytes=10)
    with pytest.raises(UnsafeSubmission, match="belongs to uid"):
        read_student_file(root, "amy", "ok.txt", max_bytes=10, owners={os.getuid() + 1})
    with pytest.raises(FileNotFoundError):
        read_student_file(root, "amy", "not-yet", max_bytes=10)
    server.close()


def test_listing_a_student_folder_skips_names_that_cannot_be_used(root):
    (root / "amy" / os.fsdecode(b"bad\xff.ipynb")).write_text("{}")
    assert [name for name, _ in student_entries(root, "amy")] == ["ok.txt"]


def test_a_submission_holding_a_name_that_is_not_utf8_is_refused_whole(root, tmp_path):
    (root / "amy" / os.fsdecode(b"\xff.csv")).write_text("1")
    with pytest.raises(UnsafeSubmission, match="not valid UTF-8"):
        copy_tree_safely(root / "amy", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


# -- the SVG sanitiser ---------------------------------------------------------------

def test_svg_keeps_neither_style_nor_id_but_keeps_the_colours_of_a_plot():
    svg = clean_svg('<svg xmlns="http://www.w3.org/2000/svg" id="notebook-container"><style>body{display:none}</style>'
                    '<path id="p" d="M0 0L9 9" style="fill: none; stroke: #1f77b4; stroke-width: 1.5; '
                    'background: url(https://example.org/x)"/><rect style="fill: expression(alert(1))"/></svg>')
    for gone in ("style", "id=", "display", "example.org", "expression"):
        assert gone not in svg, svg
    assert 'stroke="#1f77b4"' in svg and 'fill="none"' in svg and 'stroke-width="1.5"' in svg


# -- preflight -------------------------------------------------------------------------

def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "signals.ipynb"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def release_json():
    return json.loads((REPOSITORY / "release" / A / "signals.ipynb").read_text())


@pytest.fixture
def source():
    return nbformat.read(str(REPOSITORY / "source" / A / "signals.ipynb"), as_version=4)


@pytest.mark.parametrize("change, reason", [
    (lambda nb: nb.update(nbformat_minor="5"), "nbformat_minor '5'"),
    (lambda nb: nb.update(nbformat=4.0), "not the numbers of a version-4 notebook"),
    (lambda nb: nb.update(metadata=[]), "metadata or cells have the wrong type"),
    (lambda nb: nb["cells"][0].update(source=5), "cell 1 has a source that is not text"),
    (lambda nb: nb["cells"][0].update(cell_type="script"), "cell 1 has cell_type 'script'"),
    (lambda nb: nb["cells"][0].update(metadata={"nbgrader": {"grade_id": 7}}), "nbgrader metadata of the wrong types"),
    (lambda nb: nb["cells"][0].update(id=3), "an id that is not a string"),
    (lambda nb: nb["cells"].append({"cell_type": "code", "source": "", "metadata": {}, "execution_count": "1",
                                    "outputs": []}), "execution_count that is not a number"),
    (lambda nb: nb["cells"].append({"cell_type": "code", "source": "", "metadata": {}, "execution_count": None,
                                    "outputs": [{"output_type": "stream", "name": "stdout", "text": 3}]}),
     "a stream output that is not text"),
    (lambda nb: nb["cells"].append({"cell_type": "code", "source": "", "metadata": {}, "execution_count": None,
                                    "outputs": [{"output_type": "error", "ename": "E", "evalue": "", "traceback": [1]}]}),
     "an error output of the wrong types"),
])
def test_preflight_type_checks_every_nbformat_field(tmp_path, release_json, source, change, reason):
    change(release_json)
    findings = inspect_notebook(_write(tmp_path, release_json), source)
    assert len(findings.fatal) == 1 and reason in findings.fatal[0], findings.fatal
    assert "\n" not in findings.fatal[0] and "Traceback" not in findings.fatal[0]


def test_a_student_cell_with_a_hidden_test_marker_gets_a_one_line_reason(tmp_path, release_json, source):
    release_json["cells"].insert(2, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                     "source": "# ### BEGIN HIDDEN TESTS\nprint('mine')"})
    findings = inspect_notebook(_write(tmp_path, release_json), source)
    assert findings.fatal == ["signals.ipynb: cell 3 holds nbgrader's marker 'BEGIN HIDDEN TESTS', which only the "
                              "course's test cells may hold (not graded); remove that line and submit again"]
    assert inspect_notebook(_write(tmp_path, json.loads((REPOSITORY / "release" / A / "signals.ipynb").read_text())),
                            source).fatal == []


# -- LMS zips -------------------------------------------------------------------------

def test_one_students_oversized_member_refuses_only_that_student(lms):  # noqa: F811
    scratch = lms[1]
    notes, outside = take_in(lms, [("huge_1_2_signals.ipynb", os.urandom(3 * 2**20)),
                                   ("small_3_4_signals.ipynb", notebook_bytes(lms))],
                             **{"SafeExtractor.max_member_mb": 1, "SafeExtractor.max_total_mb": 2})
    assert outside == set(), outside
    refusal = next(n for n in notes["huge"] if n.startswith(REFUSED))
    assert "larger than 1 MB" in refusal
    assert not scratch.course.path("submitted", "huge").exists()
    assert (scratch.course.path("submitted", "small", A) / "signals.ipynb").exists()


# -- exchange times ---------------------------------------------------------------------

@pytest.mark.slow
def test_an_exchange_submission_dated_minutes_early_gets_the_time_its_files_changed(tmp_path):
    scratch, exchange = exchange_course(tmp_path, **{"CourseIntake.student_uids": UIDS})
    inbound = student_submits(scratch.course, exchange, tmp_path / "homes", "amy", scratch.release_notebook(A))
    real = parse_utc(inbound.name.split("+")[2])
    early = f"{real - timedelta(minutes=5):%Y-%m-%d %H:%M:%S.%f} UTC"
    backdated = inbound.rename(inbound.with_name(f"amy+{A}+{early}+abc"))
    give_to(backdated, UIDS["amy"])
    notes = intake(scratch.course, A, exchange)
    assert any("the later time is used" in n for n in notes["amy"]), notes
    written = parse_utc((scratch.course.path("submitted", "amy", A) / "timestamp.txt").read_text())
    assert (written - real).total_seconds() > -60
