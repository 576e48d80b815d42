"""Every failure a TA or student meets gets one line and the exit code ``course --help`` documents.

Each case runs the real ``course`` command; where nothing should be written,
the course folder is compared before and after (it must not even be created).
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from autograder.course import REPOSITORY
from tests.test_cli import course, snapshot
from tests.conftest import requires

pytestmark = [pytest.mark.slow]

ASSIGNMENT = "03-backprop-errors"
NOTEBOOK = "backprop_errors"


def one_line(run, code: int, *words: str) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == code, run.stdout + run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_exit_codes_are_documented_in_help_and_readme():
    run = course("--help")
    assert run.returncode == 0
    help_text = " ".join(run.stdout.split())
    for code in ("0 done", "2 a mistake on the command line", "3 `grade` graded the class but some submissions failed"):
        assert code in help_text, help_text
    readme = (REPOSITORY / "README.md").read_text()
    assert "| 3 |" in readme and "| 2 |" in readme


def test_validate_of_a_file_that_is_not_a_notebook(tmp_path):
    one_line(course("validate", str(REPOSITORY / "README.md")), 2, "README.md is not a notebook (.ipynb)")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    one_line(course("validate", str(broken)), 2, "not a readable notebook", "download it again")


def test_a_lone_notebook_is_not_called_not_a_zip(tmp_path):
    root = tmp_path / "grading"
    lone = tmp_path / f"{NOTEBOOK}.ipynb"
    shutil.copy(REPOSITORY / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", lone)
    line = one_line(course("grade", ASSIGNMENT, str(lone), "--root", str(root)), 2, "one notebook, not a class",
                    f"STUDENT/ASSIGNMENT/{NOTEBOOK}.ipynb")
    assert "not a zip" not in line
    assert not root.exists()


def test_zero_workers_is_refused(tmp_path):
    root = tmp_path / "grading"
    folder = tmp_path / "class" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy(REPOSITORY / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", folder)
    one_line(course("grade", ASSIGNMENT, str(tmp_path / "class"), "--root", str(root), "--workers", "0"), 2,
             "--workers 0", "1 or more")
    assert not root.exists()


def test_export_to_a_missing_folder(tmp_path):
    root = tmp_path / "grading"
    root.mkdir()
    (root / "gradebook.db").write_bytes(b"")   # looks like a graded class: the --to check comes first
    before = snapshot(root)
    one_line(course("export", "--root", str(root), "--to", str(tmp_path / "missing" / "grades.csv")), 2,
             "no folder", "missing")
    assert snapshot(root) == before and not (tmp_path / "missing").exists()


def test_the_keys_disagreement_is_indented_cut_at_a_word_and_names_the_key():
    from autograder.cli import _indented

    message = "e_hidden: expected shape (3,), got (2,). " + "This explains the mistake at length. " * 30
    shown = _indented(message, limit=120)
    assert all(line.startswith("       ") for line in shown.splitlines())
    assert shown.endswith(" …") and re.search(r"\S …$", shown)
    assert message.startswith(shown.strip().removesuffix(" …"))   # cut between words, never inside one


@pytest.mark.sandbox
@requires("bubblewrap", shutil.which("bwrap") is not None, "grading needs bubblewrap")
def test_a_notebook_with_cells_the_gradebook_does_not_know_fails_in_one_line(tmp_path):
    release = nbformat.read(str(REPOSITORY / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    pasted = nbformat.from_dict(dict(next(c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade"))))
    pasted.metadata = nbformat.from_dict({"nbgrader": {**pasted.metadata["nbgrader"], "grade_id": "from_another_year"}})
    pasted["id"] = "pasted-cell"
    release.cells.append(pasted)
    folder = tmp_path / "class" / "old" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(release, str(folder / f"{NOTEBOOK}.ipynb"))
    run = course("grade", ASSIGNMENT, str(tmp_path / "class"), "--root", str(tmp_path / "grading"), "--workers", "1")
    assert run.returncode == 3, run.stdout + run.stderr
    failed = [line for line in run.stdout.splitlines() if "from_another_year" in line]
    assert failed and "older or newer release" in failed[0], run.stdout
    assert "NbGraderException" not in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    page = (tmp_path / "grading" / "feedback" / "old" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "from_another_year" in page and "current release" in page
