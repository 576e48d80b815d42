"""The wheel students install holds ``exercises`` only, and it is all they need.

``course student-package`` writes ``nn_course_exercises-<version>-py3-none-any.whl``.
The first tests read the wheel: no answer key, reference solution, source
notebook, solution or hidden test can be in it. The last one installs it with
pip into a fresh virtual environment (nothing else of the course), then runs a
release notebook there, filled in as a student would, and nbgrader's Validate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.apps.student_package import INSTRUCTOR_PLUGINS, PAGE_CONFIG, build, contents
from autograder.course import REPOSITORY
from autograder.grading_session import fill_solutions

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("dist"))


def test_the_wheel_holds_exercises_and_nothing_else(wheel):
    names = contents(wheel)
    packages = {name.split("/")[0] for name in names}
    assert {p for p in packages if not p.endswith((".dist-info", ".data"))} == {"exercises"}
    shipped = sorted(n.removeprefix("exercises/") for n in names if n.startswith("exercises/"))
    assert shipped == sorted(p.relative_to(REPOSITORY / "exercises").as_posix()
                             for p in (REPOSITORY / "exercises").rglob("*.py") if "__pycache__" not in p.parts)
    assert [n for n in names if ".data/" in n] == [f"{wheel.name.split('-py3')[0]}.data/data/{PAGE_CONFIG}"]


def test_the_wheel_holds_no_key_solution_or_hidden_test(wheel):
    with zipfile.ZipFile(wheel) as archive:
        text = "\n".join(archive.read(name).decode() for name in archive.namelist())
    for marker in ("import autograder", "from autograder", "TYPICAL_MISTAKE", "BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME",
                   "def test_", "expect_close", "reference"):
        assert marker not in text, marker
    # Every line of a hidden test or a solution in source/ stays out of the wheel.
    for notebook in (REPOSITORY / "source").glob("*/*.ipynb"):
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if "### BEGIN" in line:
                    inside = True
                elif "### END" in line:
                    inside = False
                elif inside and len(line.strip()) > 24 and not line.strip().startswith("#"):
                    assert line.strip() not in text, f"{notebook.name}: {line.strip()}"


def test_the_wheel_turns_off_the_instructor_tools(wheel):
    with zipfile.ZipFile(wheel) as archive:
        config = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith(PAGE_CONFIG))))
    assert config == {"disabledExtensions": {plugin: True for plugin in INSTRUCTOR_PLUGINS}}
    assert "@jupyter/nbgrader:formgrader" in INSTRUCTOR_PLUGINS
    assert "@jupyter/nbgrader:create-assignment" in INSTRUCTOR_PLUGINS
    metadata = zipfile.ZipFile(wheel).read(next(n for n in contents(wheel) if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: jupyterlab" in metadata and "Requires-Dist: nbgrader" in metadata


def test_course_student_package_writes_the_wheel(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autograder", "student-package", "--dist", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    wheels = list(tmp_path.glob("nn_course_exercises-*-py3-none-any.whl"))
    assert len(wheels) == 1 and str(wheels[0]) in run.stdout


def test_a_release_notebook_runs_with_only_the_student_wheel(wheel, tmp_path):
    """pip install the wheel into a fresh venv, then run and validate 02 there."""
    venv = tmp_path / "student-env"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=1800)
    if install.returncode != 0 and ("NewConnectionError" in install.stderr or "No matching distribution" in install.stderr):
        pytest.skip(f"no package index reachable: {install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr[-2000:]
    seconds = time.perf_counter() - start
    print(f"fresh environment with the student wheel: {seconds:.0f} s")

    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    home = tmp_path / "student"
    home.mkdir()
    check = subprocess.run([str(python), "-c", "import exercises, importlib.util; "
                            "print(exercises.__file__, importlib.util.find_spec('autograder'))"],
                           capture_output=True, text=True, cwd=home, env=env)
    assert check.returncode == 0, check.stderr
    assert str(venv) in check.stdout and check.stdout.strip().endswith("None")   # no grader, no keys
    labextensions = subprocess.run([str(venv / "bin" / "jupyter"), "labextension", "list"],
                                   capture_output=True, text=True, cwd=home, env=env)
    disabled = (labextensions.stdout + labextensions.stderr).split("Disabled extensions:")[-1]
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled

    release = nbformat.read(str(REPOSITORY / "release/02-signals/signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source/02-signals/signals.ipynb"), as_version=4)
    nbformat.write(fill_solutions(release, source), str(home / "signals.ipynb"))
    validate = subprocess.run([str(venv / "bin" / "nbgrader"), "validate", "signals.ipynb"],
                              capture_output=True, text=True, cwd=home, env=env, timeout=600)
    assert "Success! Your notebook passes all the tests." in validate.stdout, validate.stdout + validate.stderr
    executed = subprocess.run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                               "--output", "executed.ipynb", "signals.ipynb"],
                              capture_output=True, text=True, cwd=home, env=env, timeout=600)
    assert executed.returncode == 0, executed.stderr[-2000:]
    outputs = [o for c in nbformat.read(str(home / "executed.ipynb"), as_version=4).cells
               if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("✔" in o.get("text", "") for o in outputs) >= 6
