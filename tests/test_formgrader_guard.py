"""Formgrader in a TA's course folder grades; through its API it cannot write into the repository's source/.

A TA's course folder is made as ``course grade`` makes it (``source/`` links
to this repository's), and the TA's JupyterLab is started there on 127.0.0.1.
The test then does, over HTTP with the TA's token, what formgrader's buttons
and the file editor do: *Add new assignment* (which creates ``source/<id>``),
*Generate*, saving a notebook of ``source/`` and creating a file in it. Each is
refused, and the repository's ``source/`` is byte for byte as it was; grading
and the TA's own files still work.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request

from pathlib import Path

import pytest

from autograder.course import REPOSITORY, prepare_grading_root
from tests.browser import LAB_OPTIONS, TOKEN, free_port, jupyterlab

pytestmark = [pytest.mark.slow]

PROBE = "zz-formgrader-probe"
ASSIGNMENT = "03-backprop-errors"


def tree(folder):
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def call(url: str, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, f"{error.reason}\n{error.read().decode()}"   # the reason phrase says who refused


@pytest.fixture(scope="module")
def ta_lab(tmp_path_factory):
    root = prepare_grading_root(tmp_path_factory.mktemp("ta") / "course")
    assert (root / "source").resolve() == (REPOSITORY / "source").resolve()
    port = free_port()
    # nbgrader makes the new gradebook with `alembic`, found on PATH: this environment's
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with jupyterlab([sys.executable, "-m", "jupyter", "lab", "--allow-root", f"--port={port}",
                     f"--ServerApp.root_dir={root}", *LAB_OPTIONS], root, port, env=env) as url:
        yield url, root


def test_formgrader_in_the_ta_folder_cannot_write_into_the_repositorys_source(ta_lab):
    url, root = ta_lab
    source = REPOSITORY / "source"
    before = tree(source)
    notebook = f"source/{ASSIGNMENT}/backprop_errors.ipynb"
    try:
        attempts = {
            "add an assignment": call(url, "PUT", f"/formgrader/api/assignment/{PROBE}", {"duedate_notimezone": None}),
            "generate": call(url, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/assign"),
            "save a source notebook": call(url, "PUT", f"/api/contents/{notebook}",
                                           {"type": "file", "format": "text", "content": "{}"}),
            "create a file in source/": call(url, "PUT", f"/api/contents/source/{PROBE}.txt",
                                             {"type": "file", "format": "text", "content": "x"}),
            "delete a source notebook": call(url, "DELETE", f"/api/contents/{notebook}"),
            "rename source/": call(url, "PATCH", "/api/contents/source", {"path": "renamed-source"}),
        }
        for what, (status, body) in attempts.items():
            assert status == 403, f"{what}: {status}"
            assert "authored in the course repository" in body, f"{what}: refused for another reason: {body[:300]}"
        assert tree(source) == before
        assert not (source / PROBE).exists() and not (source / f"{PROBE}.txt").exists()
    finally:   # a guard that failed must not leave the probe in the repository
        shutil.rmtree(source / PROBE, ignore_errors=True)
        (source / f"{PROBE}.txt").unlink(missing_ok=True)


def test_grading_and_the_tas_own_files_still_work(ta_lab):
    url, root = ta_lab
    status, body = call(url, "GET", "/formgrader/api/assignments")
    assert status == 200 and ASSIGNMENT in body
    status, _ = call(url, "PUT", "/api/contents/notes.txt", {"type": "file", "format": "text", "content": "mine"})
    assert status in (200, 201) and (root / "notes.txt").read_text() == "mine"
