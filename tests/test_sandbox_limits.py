"""Limits that hold for the sandbox as a whole, and notebooks refused before anything reads them.

One class is graded once with the real pipeline, real kernels and the real
sandbox, under a small memory limit (512 MB for the whole sandbox) and a
small scratch space: an honest student, one whose forked children together
hoard more memory than the sandbox has, one who fills the scratch space, one
with a 300 MB notebook and one with a notebook nested 100 000 levels deep.
Only the hostile ones lose anything, each with its reason in the summary.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import cgroup
from autograder.preflight import Preflight, inspect_submission, json_depth
from autograder.preprocessors.sandbox import (UNBOUNDED_SCRATCH, UNPROTECTED_WITHOUT_BWRAP, SandboxedExecute, bwrap_scratch_works,
                                protection_warnings, take_events)
from tests.conftest import needs_sandbox, requires, result
from tests.hostile.builder import (ASSIGNMENT, FILL_CELL, hoard_cell, nested_notebook, oversized_notebook, solved,
                                   with_hostile_cell)

pytestmark = [pytest.mark.sandbox]

needs_cgroup = requires("a cgroup", lambda: cgroup.support() is None, "no delegated cgroup v2 subtree here")
needs_scratch = requires("a size-limited tmpfs", bwrap_scratch_works, "bwrap cannot mount a size-limited tmpfs")

MEMORY_MB = 512
SCRATCH_MB = 48
LIMITS = {"Execute.timeout": 30, "Execute.iopub_timeout": 4, "SandboxedExecute.notebook_timeout": 120,
          "SandboxedExecute.memory_limit_mb": MEMORY_MB,
          # a generous address space per process: the cgroup, not setrlimit, must stop the hoard
          "SandboxedExecute.process_memory_limit_mb": 2048,
          "SandboxedExecute.scratch_mb": SCRATCH_MB, "SandboxedExecute.max_file_mb": 16}
HOARD = hoard_cell(children=4, megabytes=int(MEMORY_MB * 0.4))


@functools.lru_cache(maxsize=None)
def graded_class():
    """(scratch course, report) for a class of five graded with two workers."""
    from autograder.grading_session import ScratchCourse
    from autograder.pipeline import grade_class

    scratch = ScratchCourse(Path(tempfile.mkdtemp(prefix="limits-")), **LIMITS)
    course = scratch.course
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    name = course.notebooks(ASSIGNMENT)[0]

    def folder(student: str) -> Path:
        path = course.path("submitted", student, ASSIGNMENT)
        path.mkdir(parents=True, exist_ok=True)
        return path / f"{name}.ipynb"

    nbformat.write(solved(release, source), str(folder("ada")))
    nbformat.write(with_hostile_cell(release, source, HOARD), str(folder("hoarder")))
    nbformat.write(with_hostile_cell(release, source, FILL_CELL), str(folder("filler")))
    oversized_notebook(folder("huge"), solved(release, source), megabytes=300)
    nested_notebook(folder("deep"), solved(release, source), levels=100_000)
    report = grade_class(course, ASSIGNMENT, workers=2)
    return scratch, report


@pytest.fixture(scope="module")
def graded():
    return graded_class()


def text_of(entry) -> str:
    return " ".join([entry.problem or ""] + entry.notes)


def cell_output(scratch, student: str, marker: str) -> str:
    """The printed output of the graded notebook's cell whose source contains *marker*."""
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    notebook = nbformat.read(str(scratch.course.path("autograded", student, ASSIGNMENT, f"{name}.ipynb")),
                             as_version=4)
    cell = next(c for c in notebook.cells if marker in c.source)
    return "".join(o.get("text", "") for o in cell.outputs) + " ".join(
        f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.get("output_type") == "error")


# -- the class ------------------------------------------------------------------

@needs_sandbox
def test_the_honest_student_scores_full_marks_beside_every_attack(graded):
    _, report = graded
    ada = result(report, "ada")
    assert ada.problem is None and ada.score == ada.max_score == 12, text_of(ada)


@needs_sandbox
@needs_cgroup
def test_forked_children_together_cannot_exceed_the_sandbox_memory(graded):
    """4 children × 40 % of the limit: the cgroup lets at most two hold their share at once."""
    scratch, report = graded
    printed = cell_output(scratch, "hoarder", "oom_score_adj")
    words = printed.split()
    completed, killed = int(words[words.index("completed") + 1]), int(words[words.index("killed") + 1])
    assert completed + killed == 4
    assert completed <= 2 and killed >= 2, printed
    hoarder = result(report, "hoarder")
    assert f"ran out of memory ({MEMORY_MB} MB for all its processes" in text_of(hoarder)
    assert "hoarder" in report.table() and "ran out of memory" in report.table()
    # the OOM killer chose the children: the kernel lived on and graded every answer after them
    assert hoarder.score == 12, text_of(hoarder)


@needs_sandbox
@needs_scratch
def test_filling_the_scratch_space_stops_at_its_size(graded):
    scratch, report = graded
    printed = cell_output(scratch, "filler", "def fill")
    lines = dict(line.split(" ", 1) for line in printed.splitlines() if line.startswith(("home", "tmp")))
    for where in ("home", "tmp"):
        written, errno = lines[where].split()[:2]
        assert errno == "28", printed  # ENOSPC
        assert SCRATCH_MB - 9 <= int(written) <= SCRATCH_MB, printed
    filler = result(report, "filler")
    assert f"the sandbox's scratch space is full ({SCRATCH_MB} MB each for $HOME and /tmp)" in text_of(filler)
    assert "No space left on device" in printed


@needs_sandbox
@pytest.mark.parametrize("student, reason", [
    ("huge", "is 300.0 MB, over the limit of 20 MB for a notebook"),
    ("deep", "nests 100,001 levels deep, over the limit of 64"),
])
def test_pathological_notebooks_are_refused_before_execution(graded, student, reason):
    scratch, report = graded
    entry = result(report, student)
    assert entry.status == "failed" and entry.score is None
    assert reason in entry.problem and len(entry.problem.splitlines()) == 1
    assert "crashed" not in entry.problem and "Traceback" not in entry.problem
    # nbgrader never read it: no autograded copy, nothing of it in feedback, and the summary says why
    assert not scratch.course.path("autograded", student).exists()
    feedback = [p for p in scratch.course.path("feedback", student).rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in feedback) < 200_000  # at most a page giving the reason
    assert reason in report.table()


@needs_sandbox
def test_this_machine_bounds_the_whole_sandbox(graded):
    """Where every mechanism works the summary has no warning about them; otherwise each is named."""
    _, report = graded
    for warning in protection_warnings("auto"):
        assert warning in report.warnings
    if cgroup.support() is None and bwrap_scratch_works():
        assert not [w for w in report.warnings if "cgroup" in w or "scratch space" in w]


# -- preflight on its own: fast, one line -------------------------------------

@pytest.fixture()
def submission(tmp_path):
    from autograder.grading_session import ScratchCourse

    scratch = ScratchCourse(tmp_path / "course")
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    folder = tmp_path / "submission"
    folder.mkdir()
    return folder, folder / f"{name}.ipynb", {name: source}, solved(release, source)


def test_a_300_mb_notebook_is_refused_in_well_under_a_second(submission):
    folder, path, sources, notebook = submission
    oversized_notebook(path, notebook, megabytes=300)
    start = time.perf_counter()
    findings = inspect_submission(folder, sources)
    seconds = time.perf_counter() - start
    assert seconds < 0.5
    assert findings.fatal == [findings.fatal[0]] and "over the limit of 20 MB" in findings.fatal[0]


def test_a_notebook_nested_100_000_levels_is_refused_in_well_under_a_second(submission):
    folder, path, sources, notebook = submission
    nested_notebook(path, notebook, levels=100_000)
    start = time.perf_counter()
    findings = inspect_submission(folder, sources)
    assert time.perf_counter() - start < 0.5
    assert len(findings.fatal) == 1 and "100,001 levels deep" in findings.fatal[0]


def test_too_many_cells_and_a_huge_output_are_refused(submission):
    folder, path, sources, notebook = submission
    crowded = nbformat.from_dict({**notebook, "cells": notebook.cells + [new_code_cell("pass") for _ in range(1000)]})
    nbformat.write(crowded, str(path))
    assert "cells, over the limit of 1,000" in inspect_submission(folder, sources).fatal[0]
    loud = nbformat.from_dict(notebook)
    loud.cells[0] = new_code_cell("print()", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                           text="y" * 6 * 2**20)])
    nbformat.write(loud, str(path))
    assert "has an output of 6.0 MB, over the limit of 5 MB" in inspect_submission(folder, sources).fatal[0]


def test_a_link_or_a_crowded_folder_is_refused_unread(submission, tmp_path):
    folder, path, sources, notebook = submission
    path.symlink_to("/dev/zero")
    assert "not a plain file" in inspect_submission(folder, sources).fatal[0]
    path.unlink()
    nbformat.write(notebook, str(path))
    for number in range(120):
        (folder / f"extra-{number}.txt").write_text("x")
    assert "more than 100 files" in inspect_submission(folder, sources).fatal[0]


def test_limits_come_from_the_config(submission):
    folder, path, sources, notebook = submission
    nbformat.write(notebook, str(path))
    assert not inspect_submission(folder, sources).fatal
    strict = Preflight(max_notebook_mb=0.01)
    assert "over the limit of 0.01 MB" in inspect_submission(folder, sources, strict).fatal[0]
    from autograder.course import Course, REPOSITORY

    assert Preflight(config=Course(REPOSITORY).config).max_json_depth == 64


def test_json_depth_counts_brackets_outside_strings_only():
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(b'{"s": "[[[{{{\\"[[[", "t": "]]]"}') == 1
    assert json_depth(b"[" * 200_000 + b"]" * 200_000) == 200_000
    solutions = Path(__file__).resolve().parent.parent / "solutions"
    for notebook in solutions.glob("*/*.ipynb"):
        assert json_depth(notebook.read_bytes()) <= 10


# -- the sandbox on its own ----------------------------------------------------

def run_cells(folder: Path, *sources: str, **limits) -> tuple[list[str], list[str]]:
    """Run code cells in the sandbox with *folder* as the notebook's folder: (printed text per cell, events)."""
    executor = SandboxedExecute(timeout=60, **{"memory_limit_mb": 1024, "process_memory_limit_mb": 2048, **limits})
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    take_events()
    notebook, _ = executor.preprocess(notebook, {"metadata": {"path": str(folder)}})
    printed = ["".join(o.get("text", "") or f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs)
               for cell in notebook.cells]
    return printed, take_events()


@needs_sandbox
def test_only_regular_files_beside_the_notebook_are_copied_in(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the key")
    folder = tmp_path / "notebook"
    folder.mkdir()
    (folder / "data.csv").write_text("1,2,3")
    (folder / "link.csv").symlink_to(secret)
    (folder / "other.ipynb").write_text("{}")
    os.mkfifo(folder / "pipe")
    (folder / "sub").mkdir()
    printed, _ = run_cells(folder, "import os\nprint(sorted(n for n in os.listdir('.') if not n.startswith('.')))",
                           "print(open('data.csv').read())")
    assert printed[0].strip() == "['data.csv']"
    assert printed[1].strip() == "1,2,3"


@needs_sandbox
@needs_cgroup
def test_the_cgroup_goes_when_the_kernel_ends_and_stale_ones_are_removed(tmp_path):
    _, parents = cgroup.own_cgroups()
    mine = f"{cgroup.PREFIX}{os.getpid()}-"
    printed, _ = run_cells(tmp_path, "import subprocess\nsubprocess.Popen(['sleep', '600'])\nprint('left running')")
    assert printed[0].strip() == "left running"
    assert not [p for parent in parents.values() for p in parent.iterdir() if p.name.startswith(mine)]
    # a grader that dies leaves its cgroup behind; the next one made removes it
    pid = os.fork()
    if pid == 0:
        group = cgroup.SandboxCgroup.create(64 * 2**20, 8)
        os.write(os.open(tmp_path / "left", os.O_CREAT | os.O_WRONLY), str(group.folders["memory"]).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    left = Path((tmp_path / "left").read_text())
    assert left.is_dir()
    group = cgroup.SandboxCgroup.create(64 * 2**20, 8)
    try:
        assert not left.exists()
    finally:
        group.remove()
    assert not group.folders


def test_a_sandbox_without_bubblewrap_says_what_it_does_not_bound():
    warnings = protection_warnings("rlimits")
    assert UNPROTECTED_WITHOUT_BWRAP in warnings
    assert UNBOUNDED_SCRATCH.format(reason="bubblewrap is not available") in warnings
    if cgroup.support() is not None:
        assert any("no cgroup for the sandbox" in w for w in warnings)


@needs_sandbox
def test_a_grader_that_cannot_make_cgroups_still_grades_and_says_so_loudly(tmp_path):
    """The grader runs where /sys/fs/cgroup is read-only (a container without cgroup rights, say)."""
    import json
    import subprocess
    import sys

    from autograder.course import REPOSITORY

    script = tmp_path / "grade_one_cell.py"
    script.write_text(
        "import json\n"
        "from nbformat.v4 import new_code_cell, new_notebook\n"
        "from autograder.preprocessors.sandbox import SandboxedExecute, protection_warnings, take_events\n"
        "nb = new_notebook(cells=[new_code_cell(\"print('ran', 6 * 7)\")])\n"
        "nb, _ = SandboxedExecute(timeout=60).preprocess(nb, {'metadata': {'path': '/tmp'}})\n"
        "print(json.dumps({'printed': nb.cells[0].outputs[0].get('text', ''), 'events': take_events(),\n"
        "                  'warnings': protection_warnings()}))\n")
    done = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                           "--ro-bind", str(REPOSITORY), str(REPOSITORY),   # a course cloned under /tmp
                           "--bind", str(tmp_path), str(tmp_path), "--setenv", "HOME", "/tmp",
                           "--chdir", str(REPOSITORY), sys.executable, str(script)],
                          capture_output=True, text=True, timeout=300)
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["printed"] == "ran 42\n"
    assert outcome["events"] == []  # one warning for the class, not one per student
    assert any(w.startswith("no cgroup for the sandbox (cannot create a cgroup") and "Read-only file system" in w
               and "limited per process only" in w for w in outcome["warnings"]), outcome["warnings"]
