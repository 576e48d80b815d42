"""``course student-package``: the wheel students install, with ``exercises`` only.

The course's own package (``nn-course``) holds the answer keys, the reference
solutions and the grader; students never get it. Their wheel,
``nn_course_exercises-<version>-py3-none-any.whl`` in ``dist/``, holds

- ``exercises/``: what the notebooks import (data loaders, plots, visible
  checks, ``record``), and nothing that knows an answer;
- ``etc/jupyter/labconfig/page_config.d/nn-course-student.json``, installed
  into the environment's ``etc/jupyter``: it turns off nbgrader's instructor
  tools in JupyterLab (Formgrader, Create Assignment, the course list), as
  nbgrader's documentation does with ``jupyter labextension disable``, so the
  student side shows the assignment list and Validate only;
- its requirements: JupyterLab, nbgrader (for Validate) and the libraries the
  notebooks use. One ``pip install`` of the wheel gives a student everything.

The wheel is written directly (a pure-Python wheel is a zip with three
metadata files): it holds exactly the files listed, so nothing else of the
repository can end up in it, and building it needs nothing but Python.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from pathlib import Path

from autograder.course import REPOSITORY

NAME = "nn-course-exercises"

#: What the notebooks import, and JupyterLab with nbgrader's Validate.
REQUIREMENTS = [
    "jupyterlab>=4.2,<5",
    "nbgrader>=0.9.5,<0.10",
    "ipykernel>=6.29",
    "numpy>=1.26,<3",
    "scipy>=1.11",
    "matplotlib>=3.8",
    "pandas>=2.1",
    "scikit-learn>=1.4",
    "mlxtend>=0.23",
]

#: nbgrader's JupyterLab plugins that are for instructors only.
INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
]
PAGE_CONFIG = "etc/jupyter/labconfig/page_config.d/nn-course-student.json"

def version() -> str:
    """The course's version, from its pyproject.toml."""
    return re.search(r'^version\s*=\s*"([^"]+)"', (REPOSITORY / "pyproject.toml").read_text(), re.M)[1]


def _metadata(version_: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {version_}",
             "Summary: The exercises helpers for the notebooks of Neural networks from first principles",
             "Requires-Python: >=3.10"] + [f"Requires-Dist: {requirement}" for requirement in REQUIREMENTS]
    return "\n".join(lines) + "\n"


def _files() -> list[tuple[str, bytes]]:
    """(path in the wheel, content) for everything but the metadata, in a fixed order."""
    files = [(path.relative_to(REPOSITORY).as_posix(), path.read_bytes())
             for path in sorted((REPOSITORY / "exercises").rglob("*.py"))
             if "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts]
    config = json.dumps({"disabledExtensions": {plugin: True for plugin in INSTRUCTOR_PLUGINS}}, indent=2) + "\n"
    return files + [(f"{_dist(version())}.data/data/{PAGE_CONFIG}", config.encode())]


def _dist(version_: str) -> str:
    return f"{NAME.replace('-', '_')}-{version_}"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def build(destination: Path | str = REPOSITORY / "dist") -> Path:
    """Write the student wheel into *destination* (a plain, pure-Python wheel); return its path.

    Only the files listed by :func:`_files` go in: ``exercises/*.py`` and the
    JupyterLab config, so nothing else of the repository can end up in it.
    """
    destination = Path(destination).resolve()
    destination.mkdir(parents=True, exist_ok=True)
    dist = _dist(version())
    info = f"{dist}.dist-info"
    entries = _files() + [
        (f"{info}/METADATA", _metadata(version()).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: nn-course\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", b"exercises\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)}\n" for name, data in entries) + f"{info}/RECORD,,\n"
    wheel = destination / f"{dist}-py3-none-any.whl"
    partial = wheel.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries + [(f"{info}/RECORD", record.encode())]:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    partial.replace(wheel)
    check_contents(wheel)
    return wheel


def contents(wheel: Path | str) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return sorted(archive.namelist())


def check_contents(wheel: Path | str) -> None:
    """Refuse a wheel that holds anything but ``exercises``, its metadata and the lab config."""
    stray = [name for name in contents(wheel)
             if not (name.startswith("exercises/") and name.endswith(".py")
                     or name.split("/", 1)[0].endswith(".dist-info") or name.endswith(f".data/data/{PAGE_CONFIG}"))]
    if stray:
        raise RuntimeError(f"the student wheel holds more than exercises: {', '.join(stray[:5])}")
