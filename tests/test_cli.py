"""The ``course`` command: a mistake gets one line, exit code 2, and nothing is written.

Every mistake runs the real CLI against a course folder that already holds a
graded class, and the test compares every file of that folder before and
after. The graded class itself comes from the real ``course grade`` (two
students of 02), which also shows the progress lines and, run again, notes
that are not repeated.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.course import GRADING_ROOT_VARIABLE, REPOSITORY
from autograder.grading_session import fill_solutions

pytestmark = [pytest.mark.sandbox]

ASSIGNMENT = "02-signals"


def course(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=900, cwd=cwd or REPOSITORY, env=env)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under *root*: size and modification time."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("submissions")
    release = nbformat.read(str(REPOSITORY / "release" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    for student, notebook in (("ada", fill_solutions(release, source)), ("ben", release)):
        (folder / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / ASSIGNMENT / "signals.ipynb"))
    (folder / "ben" / ASSIGNMENT / "scratch.txt").write_text("a file beside the notebook\n")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, submissions) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("ta") / "course"
    run = course("grade", ASSIGNMENT, str(submissions), "--root", str(root), "--workers", "2")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return root, run


def test_grading_shows_progress_per_submission(graded):
    root, run = graded
    progress = [line for line in run.stderr.splitlines() if line.startswith(f"grading {ASSIGNMENT}:")]
    assert [line.split()[2:4] for line in progress] in ([["1/2", "ada"], ["2/2", "ben"]],
                                                       [["1/2", "ben"], ["2/2", "ada"]])
    assert any("12/12" in line for line in progress)
    noise = run.stdout + run.stderr
    assert "without encryption" not in noise and "Removing existing assignment" not in noise
    assert (root / "source").resolve() == (REPOSITORY / "source").resolve()
    assert (root / "gradebook.db").exists() and (root / "nbgrader_config.py").exists()


def test_a_second_run_does_not_repeat_notes(graded, submissions):
    root, _ = graded
    again = course("grade", ASSIGNMENT, str(submissions), "--root", str(root))
    assert again.returncode == 0, again.stderr
    ben = [line for line in again.stdout.splitlines() if "scratch.txt" in line]
    assert len(ben) == 1 and "unchanged" in ben[0], again.stdout


def _one_line_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    for word in words:
        assert word in lines[0]


def test_a_misspelled_assignment(graded, submissions):
    root, _ = graded
    before = snapshot(root)
    run = course("grade", "02-signal", str(submissions), "--root", str(root))
    _one_line_error(run, "02-signal", "did you mean 02-signals?")
    assert snapshot(root) == before
    assert not (root / "submitted" / "ada" / "02-signal").exists()


def test_a_missing_folder(graded, tmp_path):
    root, _ = graded
    before = snapshot(root)
    _one_line_error(course("grade", ASSIGNMENT, str(tmp_path / "no-such-folder"), "--root", str(root)),
                    "no folder or zip")
    assert snapshot(root) == before


def test_a_malformed_due_date(graded, submissions):
    root, _ = graded
    before = snapshot(root)
    _one_line_error(course("grade", ASSIGNMENT, str(submissions), "--root", str(root), "--due", "1st of March"),
                    "YYYY-MM-DD HH:MM")
    assert snapshot(root) == before


def test_a_zip_without_notebooks(graded, tmp_path):
    root, _ = graded
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("ada_123_456_report.pdf", b"%PDF-1.4")
    before = snapshot(root)
    _one_line_error(course("grade", ASSIGNMENT, str(archive), "--root", str(root)), "export.zip", "no notebooks")
    assert snapshot(root) == before


def test_mistakes_on_a_fresh_machine_create_no_course_folder(tmp_path, submissions):
    """The default TA folder is not even created when the command is wrong."""
    env = {**os.environ, GRADING_ROOT_VARIABLE: str(tmp_path / "grading")}
    _one_line_error(course("grade", "2-signals", str(submissions), env=env), "did you mean 02-signals?")
    _one_line_error(course("grade", ASSIGNMENT, str(submissions), "--due", "soon", env=env), "--due")
    _one_line_error(course("export", env=env), "no graded class")
    assert not (tmp_path / "grading").exists()


def test_other_commands_answer_in_one_line(graded, tmp_path):
    root, _ = graded
    before = snapshot(root)
    _one_line_error(course("export", "02-signal", "--root", str(root), "--to", str(tmp_path / "g.csv")), "02-signal")
    _one_line_error(course("check", "2-signals"), "did you mean 02-signals?")
    _one_line_error(course("validate", str(tmp_path / "missing.ipynb")), "missing.ipynb")
    _one_line_error(course("lab", str(tmp_path / "nowhere"), "--port", "1"), "nowhere")
    assert snapshot(root) == before and not (tmp_path / "g.csv").exists()


def test_export_refreshes_the_cell_csv_and_exports_one_assignment(graded, tmp_path):
    root, _ = graded
    from autograder.course import Course

    with Course(root).gradebook() as gradebook:   # a TA grades by hand: 1 extra point for ben's sigmoid
        grade = gradebook.find_grade("sigmoid", "signals", ASSIGNMENT, "ben")
        grade.manual_score = 1.0
        gradebook.db.commit()
    run = course("export", ASSIGNMENT, "--root", str(root), "--to", str(tmp_path / "grades.csv"))
    assert run.returncode == 0, run.stderr
    assert "no submission: score 0" in run.stdout
    cells = (root / f"grades-{ASSIGNMENT}-cells.csv").read_text().splitlines()
    assert any(line.startswith(f"{ASSIGNMENT},ben,signals,sigmoid,1.0,2.0") for line in cells), cells
    rows = (tmp_path / "grades.csv").read_text().splitlines()[1:]
    assert rows and all(row.startswith(ASSIGNMENT + ",") for row in rows)


def test_validate_says_what_success_means(tmp_path):
    release = nbformat.read(str(REPOSITORY / "release" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source" / ASSIGNMENT / "signals.ipynb"), as_version=4)
    nbformat.write(fill_solutions(release, source), str(tmp_path / "signals.ipynb"))
    run = course("validate", "signals.ipynb", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success! Your notebook passes all the tests." in run.stdout
    assert "graded checks run when your work is graded" in run.stdout
    assert "without encryption" not in run.stdout + run.stderr


def test_plain_nbgrader_finds_an_exchange_in_both_course_folders(graded):
    """formgrader (plain `jupyter lab`) warns when the exchange folder does not exist."""
    root, _ = graded
    code = ("from nbgrader.apps import NbGrader; app = NbGrader(); app.initialize([]); "
            "print(app.config.CourseDirectory.get('root', ''), app.config.Exchange.root)")
    for folder, expected in ((REPOSITORY, REPOSITORY / "exchange"), (root, root / "exchange")):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, timeout=120)
        exchange = Path(run.stdout.split()[-1])
        assert exchange == expected and exchange.is_dir(), run.stdout + run.stderr
