"""Build a class of submissions for assignment 02, hostile ones included.

A hostile student hands in the solved notebook (``fill_solutions``) with one
extra code cell inserted near the top. Other broken submissions: a file that
is not JSON, duplicated or deleted cell ids, an empty folder.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from autograder.grading_session import fill_solutions

ASSIGNMENT = "02-signals"

#: student id → the code of the hostile cell.
HOSTILE_CELLS = {
    "h-infinite-loop": "while True:\n    pass",
    "h-memory-bomb": "hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 2**20))",
    "h-fork-bomb": ("import os, time\n"
                    "for _ in range(10_000):\n"
                    "    if os.fork() == 0:\n"
                    "        time.sleep(30)\n"
                    "        os._exit(0)"),
    "h-output-flood": "while True:\n    print('spam ' * 2000)",
    "h-sys-exit": "import sys\nsys.exit(1)",
    "h-os-exit": "import os\nos._exit(0)",
    "h-kill-parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)",
    "h-read-secrets": ("import glob, pathlib\n"
                       "stolen = {}\n"
                       "for pattern in ['{root}/gradebook.db', '{repo}/autograder/keys/*.py', '{root}/submitted/*/*/*.ipynb']:\n"
                       "    for name in glob.glob(pattern):\n"
                       "        stolen[name] = pathlib.Path(name).read_bytes()[:100]\n"
                       "import autograder.keys\n"),
    "h-write-outside": ("import pathlib\n"
                        "for target in ['{repo}/autograder/keys/02-signals.py', '/etc/evil', '/usr/evil', '{root}/evil.txt']:\n"
                        "    try:\n"
                        "        pathlib.Path(target).write_text('owned')\n"
                        "    except OSError as error:\n"
                        "        print('blocked', target, type(error).__name__)\n"
                        "pathlib.Path('{repo}/exercises/evil.py').write_text('owned')\n"),
    "h-network": ("import socket, urllib.request\n"
                  "socket.create_connection(('pypi.org', 443), timeout=3)\n"),
}


def solved(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return fill_solutions(release, source)


def with_hostile_cell(release, source, code: str, position: int = 2) -> nbformat.NotebookNode:
    notebook = solved(release, source)
    notebook.cells.insert(position, new_code_cell(code))
    return notebook


def write_class(submitted: Path, release, source, notebook_name: str, root: Path, repo: Path,
                honest: dict[str, nbformat.NotebookNode]) -> dict[str, str]:
    """Write every student's folder under *submitted*; return student → what they did."""
    kinds: dict[str, str] = {}

    def folder(student: str) -> Path:
        path = submitted / student / ASSIGNMENT
        path.mkdir(parents=True, exist_ok=True)
        return path

    for student, notebook in honest.items():
        nbformat.write(notebook, str(folder(student) / f"{notebook_name}.ipynb"))
        kinds[student] = "honest"
    for student, code in HOSTILE_CELLS.items():
        code = code.replace("{root}", str(root)).replace("{repo}", str(repo))
        nbformat.write(with_hostile_cell(release, source, code), str(folder(student) / f"{notebook_name}.ipynb"))
        kinds[student] = "hostile"
    (folder("b-not-json") / f"{notebook_name}.ipynb").write_text('{"cells": [ this is not json')
    kinds["b-not-json"] = "broken"
    duplicated = solved(release, source)
    data = json.loads(nbformat.writes(duplicated))
    for cell in data["cells"]:
        cell["id"] = "same-id"
    (folder("b-duplicate-ids") / f"{notebook_name}.ipynb").write_text(json.dumps(data))
    kinds["b-duplicate-ids"] = "broken"
    data = json.loads(nbformat.writes(copy.deepcopy(solved(release, source))))
    for cell in data["cells"]:
        cell.pop("id", None)
    data["nbformat_minor"] = 5
    (folder("b-deleted-ids") / f"{notebook_name}.ipynb").write_text(json.dumps(data))
    kinds["b-deleted-ids"] = "broken"
    folder("b-empty")
    kinds["b-empty"] = "broken"
    return kinds


# -- one graded class shared by the test modules (graded once per session) ---

HONEST = ("ada", "ben", "cleo", "lee-late")
LIMITS = {"Execute.timeout": 5, "Execute.iopub_timeout": 4, "SandboxedExecute.notebook_timeout": 40,
          "SandboxedExecute.max_output_bytes": 600_000, "SandboxedExecute.memory_limit_mb": 2048,
          "SandboxedExecute.max_processes": 64}
DUE = "2024-03-01 12:00:00"
LATE_TIMESTAMP = "2024-03-02 20:00:00"  # 32 hours late: two started days


@functools.lru_cache(maxsize=None)
def graded_class():
    """A scratch course with a class of 18 graded with 2 workers: (scratch, report, kinds, mistake)."""
    import tempfile
    from datetime import datetime

    from autograder.course import REPOSITORY
    from autograder.demo import typical_mistake
    from autograder.grading_session import ScratchCourse
    from autograder.pipeline import grade_class

    scratch = ScratchCourse(Path(tempfile.mkdtemp(prefix="class-")), **LIMITS)
    course = scratch.course
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    name = course.notebooks(ASSIGNMENT)[0]
    mistake = typical_mistake(ASSIGNMENT)
    honest = {"ada": solved(release, source), "ben": release,
              "cleo": fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]}),
              "lee-late": solved(release, source)}
    kinds = write_class(course.path("submitted"), release, source, name, scratch.root, REPOSITORY, honest)
    (course.path("submitted", "lee-late", ASSIGNMENT) / "timestamp.txt").write_text(LATE_TIMESTAMP)
    with course.gradebook() as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=datetime.fromisoformat(DUE))
    report = grade_class(course, ASSIGNMENT, workers=2)
    return scratch, report, kinds, mistake


# -- limits that hold for the sandbox as a whole (tests/test_sandbox_limits.py) --

def hoard_cell(children: int, megabytes: int) -> str:
    """Fork *children* that each fill and hold *megabytes*; print how many finished and how many were killed.

    Each child asks to be the OOM killer's first choice, so the kernel itself
    survives and can print the count.
    """
    return ("import os, time\n"
            "children = []\n"
            f"for _ in range({children}):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        with open('/proc/self/oom_score_adj', 'w') as adj:\n"
            "            adj.write('1000')\n"
            f"        hoard = b'x' * ({megabytes} * 2**20)  # written, so resident\n"
            "        time.sleep(6)\n"
            "        os._exit(0)\n"
            "    children.append(pid)\n"
            "statuses = [os.waitpid(pid, 0)[1] for pid in children]\n"
            "print('completed', sum(s == 0 for s in statuses), 'killed', sum(os.WIFSIGNALED(s) for s in statuses))\n")


#: Fill $HOME, then /tmp, in files of 8 MB; print the MB written and the errno that stopped each;
#: then one more write, whose error is left for the grader to see.
FILL_CELL = """import os
def fill(folder):
    written = 0
    try:
        for number in range(10_000):
            with open(os.path.join(folder, f'fill-{number}.bin'), 'wb') as part:
                for _ in range(8):
                    part.write(b'x' * 2**20)
                    written += 1
    except OSError as error:
        return written, error.errno
    return written, None
print('home', *fill(os.path.expanduser('~')))
print('tmp', *fill('/tmp'))
open(os.path.expanduser('~/one-more.bin'), 'wb').write(b'x' * 2**20)
"""


def oversized_notebook(path: Path, notebook: nbformat.NotebookNode, megabytes: int) -> None:
    """Write *notebook* padded to about *megabytes* with one huge metadata string (written in blocks)."""
    text = nbformat.writes(notebook).rstrip()
    assert text.endswith("}")
    with open(path, "w") as handle:
        handle.write(text[:-1] + ',\n "padding": "')
        block = "x" * 2**20
        for _ in range(megabytes):
            handle.write(block)
        handle.write('"\n}\n')


def nested_notebook(path: Path, notebook: nbformat.NotebookNode, levels: int) -> None:
    """Write *notebook* with a metadata value nested *levels* lists deep."""
    text = nbformat.writes(notebook).rstrip()
    path.write_text(text[:-1] + ',\n "deep": ' + "[" * levels + "]" * levels + "\n}\n")
