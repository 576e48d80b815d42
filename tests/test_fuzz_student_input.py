"""Property-based fuzzing (Hypothesis) of every input a student writes.

Entry points, each with the real code that reads it:

- inbound folders of the exchange, read by ``course serve``'s scan
  (:meth:`autograder.apps.serve.Service.scan`): names as raw bytes (not UTF-8,
  control characters, long, nbgrader's ``+`` layout or not) and entries of every
  file type where nbgrader puts ``submission_secret.txt`` and beside it (FIFO,
  socket, device, link to ``/dev/zero`` or to a file only the grader reads,
  hard link, folder where a file is expected, empty, huge);
- a class folder taken in by ``course grade`` (:func:`autograder.intake.intake`);
- zip and tar members (:class:`autograder.plugins.lms.SafeExtractor`);
- notebook JSON (:func:`autograder.preflight.inspect_notebook`, then the
  sanitiser and the feedback's redaction on whatever passes): types, sizes,
  nesting, nbgrader's markers; and a batch of them graded by ``course grade``
  beside an honest student.

Properties: every call finishes (a FIFO opened by mistake would block: an
alarm turns that into a failure), the honest student next to the attack is
taken, graded and released as if alone, nothing a link points at reaches the
course, and the student is told why (a refusal, a note, a one-line finding).

The default suite runs a bounded number of examples per test
(``COURSE_FUZZ_EXAMPLES``, 25). Before a term, run a longer search::

    COURSE_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_student_input.py -p no:cacheprovider
"""

from __future__ import annotations

import copy
import io
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import tarfile
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.apps.serve import Service
from autograder.intake import intake
from autograder.plugins.lms import ArchiveRefused, SafeExtractor
from autograder.preflight import inspect_notebook
from autograder.preprocessors.feedback import redact_output, withhold_after_hidden
from autograder.preprocessors.sanitize import clean_cell
from autograder.safefiles import printable
from autograder.service import exchange as service_exchange
from tests.test_serve import A, Exchange
from tests.conftest import everything_under

pytestmark = [pytest.mark.sandbox]

EXAMPLES = int(os.environ.get("COURSE_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="COURSE_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
#: What only the grading account can read; links and hard links to it must bring it nowhere.
CANARY = b"canary-" + secrets.token_hex(12).encode()
REPOSITORY = Path(__file__).resolve().parents[1]


@contextmanager
def finishes_within(seconds: int):
    """Fail (instead of hanging) when the code inside blocks, on a FIFO say."""
    def stop(signum, frame):
        raise AssertionError(f"blocked for more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- strategies --------------------------------------------------------------------

NAME_BYTES = st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\0" not in b
                                                       and b not in (b".", b".."))
TEXT_PART = st.one_of(st.text(min_size=1, max_size=20).filter(lambda t: "/" not in t and "\0" not in t),
                      st.sampled_from(["amy", "..", ".", "a\x1b[31m", "x" * 200, "a+b", "bo\u202e"]))
KINDS = ["file", "empty", "huge", "fifo", "socket", "device", "link-zero", "link-canary", "hard-canary",
         "folder", "link-folder", "missing"]


@st.composite
def inbound_names(draw) -> bytes:
    """A folder name in inbound/: raw bytes, or nbgrader's layout with hostile parts."""
    if draw(st.booleans()):
        return draw(NAME_BYTES)
    student = draw(st.one_of(TEXT_PART.map(lambda t: t.encode("utf-8", "surrogatepass")), NAME_BYTES))
    stamp = draw(st.sampled_from([b"2026-01-05 10:00:00.000000 UTC", b"not a time", b"9999-99-99", b""]))
    tail = draw(st.one_of(st.just(b""), st.binary(max_size=8).map(lambda b: b"+" + b.replace(b"/", b"_"))))
    name = student.replace(b"/", b"_").replace(b"\0", b"_") + b"+" + A.encode() + b"+" + stamp + tail
    return name.replace(b"\0", b"_")[:255] or b"x"   # a file name can hold any byte but "/" and NUL


def make(path: Path, kind: str, canary: Path) -> None:
    """Put an entry of *kind* at *path* (as a student can in their own folder)."""
    if kind == "file":
        path.write_text(secrets.token_hex(16))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "huge":
        with open(path, "wb") as handle:
            handle.truncate(3 * 2**30)   # sparse: 3 GB to whoever reads it all
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        if len(os.fsencode(path)) < 100:
            server = socket.socket(socket.AF_UNIX)
            server.bind(os.fsencode(path))
            server.close()
    elif kind == "device":
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5)) if os.geteuid() == 0 else os.mkfifo(path)
    elif kind == "link-zero":
        os.symlink("/dev/zero", path)
    elif kind == "link-canary":
        os.symlink(canary, path)
    elif kind == "hard-canary":
        os.link(canary, path)
    elif kind == "folder":
        os.mkdir(path)
    elif kind == "link-folder":
        os.symlink(canary.parent, path)



# -- the exchange, as course serve scans it -------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-serve")
    ex = Exchange(tmp)
    ex.submit("amy", ex.release_nb)
    inbound = service_exchange.inbound_folder(ex.course.config)
    template = next(inbound.iterdir())
    keep = tmp / "template" / template.name   # a real submission, kept under its own name
    shutil.copytree(template, keep)
    shutil.rmtree(template)
    canary = tmp / "grader-only" / "secret.txt"
    canary.parent.mkdir()
    canary.write_bytes(CANARY)
    canary.chmod(0o600)
    service = Service(ex.course, workers=1, out=io.StringIO())
    yield ex, service, inbound, keep, canary
    service.journal.close()


@FUZZ
@given(entries=st.lists(st.tuples(inbound_names(), st.sampled_from(["folder", "file", "fifo", "link-folder"]),
                                  st.sampled_from(KINDS),
                                  st.lists(st.tuples(NAME_BYTES, st.sampled_from(KINDS)), max_size=3)),
                        min_size=1, max_size=4))
def test_the_service_scan_survives_any_inbound_folder_and_takes_the_honest_one(served, entries):
    ex, service, inbound, template, canary = served
    made = []
    folder_kinds = {}
    for name, folder_kind, secret_kind, extras in entries:
        path = Path(os.fsdecode(os.fsencode(inbound) + b"/" + name))
        if os.path.lexists(path):
            continue
        made.append(path)
        folder_kinds[path] = (folder_kind, secret_kind)
        if folder_kind != "folder":
            make(path, folder_kind, canary)
            continue
        shutil.copytree(template, path)
        (path / "submission_secret.txt").unlink()
        make(path / "submission_secret.txt", secret_kind, canary)
        for extra, kind in extras:
            target = Path(os.fsdecode(os.fsencode(path) + b"/" + extra))
            if not os.path.lexists(target):
                make(target, kind, canary)
    honest = inbound / f"{template.name.rsplit('+', 1)[0]}+{uuid.uuid4().hex[:8]}"
    shutil.copytree(template, honest)
    (honest / "submission_secret.txt").write_text(secrets.token_hex(16))
    made.append(honest)
    try:
        with finishes_within(60):
            service.scan()
        entry = service.journal.get(honest.name)
        assert entry is not None and entry.state == "queued", service.out.getvalue()[-3000:]   # taken, as if alone
        state = service.state_dir
        assert CANARY not in everything_under(state), "a linked file reached .serve/"
        assert CANARY not in everything_under(ex.course.root)
        refused = service.journal.refused()
        for path in made[:-1]:   # each hostile folder of the open assignment: taken (with a notice) or refused
            name = os.fsdecode(path.name)
            parts = service_exchange.parse_name(name)
            complete = folder_kinds.get(path) == ("folder", "file")
            if parts and parts[1] == A and complete:
                assert printable(name) in refused or service.journal.get(name) is not None, name
    finally:
        for path in made:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        service.journal.update(honest.name, "fuzzed", state="closed")


# -- a class folder, as course grade takes it in ------------------------------------------

@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    from autograder.grading_session import ScratchCourse, fill_solutions

    tmp = tmp_path_factory.mktemp("fuzz-grade")
    scratch = ScratchCourse(tmp / "course")
    scratch.release(A)
    canary = tmp / "grader-only" / "secret.txt"
    canary.parent.mkdir()
    canary.write_bytes(CANARY)
    solved = fill_solutions(scratch.release_notebook(A), scratch.source_notebook(A))
    return tmp, scratch, canary, solved


@FUZZ
@given(students=st.lists(st.tuples(NAME_BYTES, st.lists(st.tuples(NAME_BYTES, st.sampled_from(KINDS)), max_size=4)),
                         min_size=1, max_size=3))
def test_course_grade_intake_survives_any_class_folder_and_takes_the_honest_student(graded_course, students):
    tmp, scratch, canary, solved = graded_course
    folder = tmp / f"class-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        for name, files in students:
            student = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
            if os.path.lexists(student) or name.lower() == b"honest":
                continue
            student.mkdir()
            for file, kind in files:
                target = Path(os.fsdecode(os.fsencode(student) + b"/" + file))
                if not os.path.lexists(target):
                    make(target, kind, canary)
        (folder / "honest" / A).mkdir(parents=True)
        nbformat.write(solved, str(folder / "honest" / A / "signals.ipynb"))
        with finishes_within(60):
            notes = intake(scratch.course, A, folder)
        assert (scratch.course.path("submitted", "honest", A) / "signals.ipynb").read_bytes() == \
            (folder / "honest" / A / "signals.ipynb").read_bytes()
        assert CANARY not in everything_under(scratch.course.path("submitted"))
        for lines in notes.values():   # every note is one printable line
            assert all("\n" not in line and line.isprintable() for line in lines), lines
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(scratch.course.path("submitted"), ignore_errors=True)


# -- archive members ---------------------------------------------------------------------------

MEMBER_NAMES = st.one_of(st.text(min_size=1, max_size=40),
                         st.sampled_from(["../x", "/etc/x", "a/../../x", "C:\\x", "a\\..\\..\\x", ".", "x/", "\x00",
                                          "s_1_2_signals.ipynb", "a" * 300]))


@FUZZ
@given(members=st.lists(st.tuples(MEMBER_NAMES, st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "big"]),
                                  st.binary(max_size=64)), min_size=1, max_size=6),
       form=st.sampled_from(["zip", "tar"]))
def test_archive_members_of_any_name_and_type_are_written_inside_as_plain_files_or_refused(tmp_path_factory, members,
                                                                                        form):
    tmp = tmp_path_factory.mktemp("fuzz-archive")
    archives, extracted = tmp / "archive", tmp / "extracted"
    archives.mkdir()
    extracted.mkdir()
    path = archives / f"export.{form}"
    if form == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name, kind, data in members:
                info = zipfile.ZipInfo(name)
                kinds = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK, "fifo": stat.S_IFIFO}
                info.external_attr = (kinds.get(kind, stat.S_IFREG) | 0o644) << 16
                zf.writestr(info, data * 40_000 if kind == "big" else data)
    else:
        with tarfile.open(path, "w") as tf:
            for name, kind, data in members:
                info = tarfile.TarInfo(name)
                info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                             "fifo": tarfile.FIFOTYPE}.get(kind, tarfile.REGTYPE)
                info.linkname = "/etc/passwd" if kind in ("symlink", "hardlink") else ""
                body = data * 40_000 if kind == "big" else data
                info.size = len(body) if info.type == tarfile.REGTYPE else 0
                tf.addfile(info, io.BytesIO(body) if info.type == tarfile.REGTYPE else None)
    extractor = SafeExtractor(max_member_mb=1, max_total_mb=4)
    try:
        with finishes_within(60):
            extractor.extract(str(archives), str(extracted))
    except ArchiveRefused as refused:
        assert "\n" not in str(refused)
    for written in extracted.rglob("*"):
        st_ = written.lstat()
        assert stat.S_ISDIR(st_.st_mode) or stat.S_ISREG(st_.st_mode), written
        assert written.resolve().is_relative_to(extracted.resolve())
    for name, why in extractor.refused:
        assert why and "\n" not in why


# -- notebook JSON ------------------------------------------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
                           st.text(max_size=30) | st.sampled_from(["### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS",
                                                                   "### BEGIN SOLUTION", "5", "code"]),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=4),
                           max_leaves=20)
FIELDS = [("nbformat",), ("nbformat_minor",), ("metadata",), ("cells",), ("cells", 0), ("cells", 1, "source"),
          ("cells", 1, "cell_type"), ("cells", 1, "metadata"), ("cells", 1, "metadata", "nbgrader"),
          ("cells", 1, "id"), ("cells", 2, "outputs"), ("cells", 2, "execution_count"), ("cells", 2, "attachments"),
          ("cells", 2, "outputs", 0)]


def _set(data, path, value):
    for key in path[:-1]:
        if isinstance(data, dict):
            data = data.setdefault(key, {})
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return
    if isinstance(data, dict):
        data[path[-1]] = value
    elif isinstance(data, list) and isinstance(path[-1], int) and path[-1] < len(data):
        data[path[-1]] = value


@pytest.fixture(scope="module")
def release_json():
    return json.loads((REPOSITORY / "release" / A / "signals.ipynb").read_text())


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(str(REPOSITORY / "source" / A / "signals.ipynb"), as_version=4)


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=4),
       added=st.lists(st.tuples(st.sampled_from(["code", "markdown", "raw"]), st.text(max_size=200)), max_size=3),
       depth=st.integers(min_value=0, max_value=200))
def test_any_notebook_json_gets_a_one_line_finding_or_passes_safely_through_the_feedback_steps(
        tmp_path_factory, release_json, source_nb, changes, added, depth):
    data = copy.deepcopy(release_json)
    for kind, text in added:
        cell = {"cell_type": kind, "metadata": {}, "source": text}
        if kind == "code":
            cell |= {"outputs": [{"output_type": "stream", "name": "stdout", "text": text}], "execution_count": None}
        data["cells"].insert(1, cell)
    for path, value in changes:
        _set(data, path, value)
    if depth:
        data["deep"] = json.loads("[" * depth + "]" * depth)
    path = tmp_path_factory.mktemp("fuzz-nb") / "signals.ipynb"
    path.write_text(json.dumps(data))
    with finishes_within(60):
        findings = inspect_notebook(path, source_nb)
    for line in findings.fatal + findings.notes:
        assert "\n" not in line and "Traceback" not in line
    if findings.fatal:
        return
    notebook = nbformat.reads(path.read_text(), as_version=4)
    notebook.cells = [clean_cell(cell) for cell in notebook.cells]   # the sanitiser takes whatever passed
    hidden = {"assert abs(signal - expected) < 1e-6"}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            redact_output(output, hidden)
    withhold_after_hidden(notebook, set(), hidden)


# -- a batch of fuzzed notebooks, graded by course grade beside an honest student ---------------

@settings(max_examples=1 if "COURSE_FUZZ_EXAMPLES" not in os.environ else max(1, EXAMPLES // 50), deadline=None,
          derandomize="COURSE_FUZZ_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=3),
                      min_size=3, max_size=3),
       marker=st.booleans())
def test_course_grade_of_fuzzed_notebooks_leaves_the_honest_students_grade_and_feedback_alone(
        graded_course, release_json, batch, marker):
    from autograder.pipeline import grade_class

    tmp, scratch, canary, solved = graded_course
    folder = tmp / f"batch-{uuid.uuid4().hex[:8]}"
    (folder / "honest" / A).mkdir(parents=True)
    nbformat.write(solved, str(folder / "honest" / A / "signals.ipynb"))
    for number, changes in enumerate(batch):
        data = copy.deepcopy(release_json)
        for path, value in changes:
            _set(data, path, value)
        if marker and number == 0:
            data["cells"].insert(1, {"cell_type": "code", "metadata": {}, "source": "### BEGIN HIDDEN TESTS",
                                     "outputs": [], "execution_count": None})
        (folder / f"fuzzed{number}" / A).mkdir(parents=True)
        (folder / f"fuzzed{number}" / A / "signals.ipynb").write_text(json.dumps(data))
    report = grade_class(scratch.course, A, folder, workers=2, force=True)
    results = {r.student: r for r in report.results}
    assert results["honest"].score == 12.0 and not results["honest"].problem, results["honest"]
    page = scratch.course.path("feedback", "honest", A, "signals.html").read_text()
    assert "Score:" in page
    for number in range(len(batch)):
        result = results[f"fuzzed{number}"]
        assert result.score is not None or result.problem, result   # graded, or told why
        if result.problem:
            assert "Traceback" not in result.problem and "\n" not in result.problem, result.problem
    shutil.rmtree(folder)
