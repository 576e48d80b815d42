"""The students' environment on a JupyterHub: one virtualenv every account can run.

Each student's notebook server (``jupyterhub-singleuser``) and kernels run as
that student, so the environment must be executable by every account: it is
made on the system's Python (``/usr/bin/python3``, not an interpreter inside
root's home) in a world-readable folder (default ``/opt/nn-course/student-env``).
It holds the student wheel (``course student-package``: ``exercises`` and the
JupyterLab settings that hide nbgrader's instructor tools), its requirements,
and ``jupyterhub`` for ``jupyterhub-singleuser`` at the hub's own version —
nothing else of the repository: no source notebooks, keys or solutions.

nbgrader's server extensions for instructors (formgrader, the course list)
are switched off in the environment too, as nbgrader's documentation does
with ``jupyter server extension disable --sys-prefix``, so a student who
types ``/user/<me>/formgrader`` gets a 404.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from importlib.metadata import version as installed_version
from pathlib import Path

from autograder.apps.arguments import UsageError

DEFAULT_PREFIX = Path("/opt/nn-course/student-env")
SYSTEM_PYTHON = Path("/usr/bin/python3")
#: nbgrader's server extensions for instructors only (nbgrader's docs disable them for students).
INSTRUCTOR_EXTENSIONS = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]
SERVER_CONFIG = "etc/jupyter/jupyter_server_config.d/zz-nn-course-student.json"
#: JupyterLab's settings for every student: no news or update pop-ups reaching for the internet.
LAB_OVERRIDES = "share/jupyter/lab/settings/overrides.json"
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _stamp(wheel: Path) -> str:
    digest = hashlib.sha256(wheel.read_bytes())
    digest.update(installed_version("jupyterhub").encode())
    digest.update(json.dumps(LAB_SETTINGS, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _readable_by_all(prefix: Path) -> None:
    for folder, dirs, files in os.walk(prefix):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            extra = stat.S_IROTH | stat.S_IRGRP
            if path.is_dir() or mode & stat.S_IXUSR:
                extra |= stat.S_IXOTH | stat.S_IXGRP
            os.chmod(path, mode | extra)
    for part in [prefix, *prefix.parents]:
        if part.is_dir() and not part.stat().st_mode & stat.S_IXOTH:
            raise UsageError(f"{part} is not open to other accounts (mode {part.stat().st_mode & 0o777:o}); "
                             "put the student environment where every account can reach it (e.g. /opt)")


def python_of(prefix: Path) -> Path:
    return Path(prefix) / "bin" / "python"


def singleuser(prefix: Path) -> Path:
    return Path(prefix) / "bin" / "jupyterhub-singleuser"


def is_ready(prefix: Path, wheel: Path) -> bool:
    return (Path(prefix) / ".nn-course-stamp").read_text().strip() == _stamp(wheel) \
        if (Path(prefix) / ".nn-course-stamp").is_file() else False


def build(*, prefix: Path = DEFAULT_PREFIX, wheel: Path, python: Path = SYSTEM_PYTHON, say=print) -> Path:
    """Make (or bring up to date) the student environment at *prefix*; return it.

    Up to date (same wheel, same JupyterHub version): nothing is done.
    """
    prefix, wheel = Path(prefix), Path(wheel)
    if is_ready(prefix, wheel):
        return prefix
    if not Path(python).is_file():
        raise UsageError(f"no {python}: the student environment needs a Python every account can run "
                         "(Debian: apt-get install python3-venv)")
    say(f"course: building the student environment in {prefix} (a few minutes the first time)")
    if not python_of(prefix).exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-m", "venv", str(prefix)], check=True)
    pip = [str(python_of(prefix)), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(wheel), f"jupyterhub=={installed_version('jupyterhub')}"], check=True)
    # The wheel's own files again, should its version be unchanged but its content not.
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(wheel)], check=True)
    config = prefix / SERVER_CONFIG
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {e: False for e in INSTRUCTOR_EXTENSIONS}}},
                                 indent=2) + "\n")
    overrides = prefix / LAB_OVERRIDES
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(LAB_SETTINGS, indent=2) + "\n")
    _readable_by_all(prefix)
    (prefix / ".nn-course-stamp").write_text(_stamp(wheel) + "\n")
    return prefix


def remove(prefix: Path) -> None:
    shutil.rmtree(prefix, ignore_errors=True)
