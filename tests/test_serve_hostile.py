"""`course serve` attacked through the exchange's inbound folder, as a student on a shared hub can.

A student can write anything into ``<exchange>/<course>/inbound/``: a FIFO
where nbgrader puts ``submission_secret.txt``, a link to ``/dev/zero`` or to a
file only the grading account may read, a folder whose name is not UTF-8, and
many submissions at once. The service must go on releasing everyone else's
feedback, refuse each hostile folder with one log line, read nothing a link
points at, and share its workers fairly.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from autograder.course import REPOSITORY
from autograder.service import exchange as service_exchange
from autograder.apps.serve import Service
from tests.test_serve import A, Exchange, wait_for

import pytest
from tests.conftest import everything_under

pytestmark = [pytest.mark.sandbox]

#: Only the grading account can read it; a link to it must never bring it into the course.
GRADER_ONLY = "grader-only-" + secrets.token_hex(8)


def inbound(ex: Exchange) -> Path:
    return service_exchange.inbound_folder(ex.course.config)


def plant(ex: Exchange, template: Path, student: str, tag: str) -> Path:
    """A copy of a real submission folder under *student*'s name (what a student can write into inbound/)."""
    _, assignment, timestamp = service_exchange.parse_name(template.name)
    folder = template.with_name(f"{student}+{assignment}+{timestamp}+{tag}")
    shutil.copytree(template, folder)
    (folder / "submission_secret.txt").write_text(secrets.token_hex(16))
    return folder



def test_a_fifo_a_link_and_a_bad_name_in_inbound_stop_nobody_and_read_nothing(tmp_path):
    ex = Exchange(tmp_path)
    ex.submit("alice", ex.solved())
    template = next(inbound(ex).iterdir())

    secret_file = tmp_path / "grader-secret.txt"
    secret_file.write_text(GRADER_ONLY)
    secret_file.chmod(0o600)
    fifo = plant(ex, template, "mallory", "fifo")
    (fifo / "submission_secret.txt").unlink()
    os.mkfifo(fifo / "submission_secret.txt")
    zero = plant(ex, template, "mel", "zero")
    (zero / "submission_secret.txt").unlink()
    (zero / "submission_secret.txt").symlink_to("/dev/zero")
    stolen = plant(ex, template, "moe", "steal")
    (stolen / "submission_secret.txt").unlink()
    (stolen / "submission_secret.txt").symlink_to(secret_file)
    linked_notebook = plant(ex, template, "mira", "nblink")
    (linked_notebook / "signals.ipynb").unlink()
    (linked_notebook / "signals.ipynb").symlink_to(secret_file)
    bad_name = os.fsencode(str(inbound(ex))) + b"/\xff\xfe" + os.fsencode(template.name)[5:]
    shutil.copytree(template, os.fsdecode(bad_name))

    log = tmp_path / "serve.log"
    started = time.monotonic()
    # --once: handles what is waiting and exits; a FIFO opened for reading would block it forever
    run = subprocess.run([*ex.command(workers=1), "--once"], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                         cwd=REPOSITORY, timeout=600)
    seconds = time.monotonic() - started
    text = log.read_text()
    assert run.returncode == 0, text

    # alice's feedback is released as usual
    page = ex.latest_feedback("alice")
    assert "Score:" in page, text
    assert seconds < 500, f"the service took {seconds:.0f} s"
    # each hostile folder is refused with one log line saying why
    refused = [line for line in text.splitlines() if ": refused, not graded: " in line]
    assert any("mallory+" in line and "FIFO" in line for line in refused), text
    assert any("mel+" in line and "a link" in line for line in refused), text
    assert any("moe+" in line and "a link" in line for line in refused), text
    assert any("\\xff\\xfe" in line and "not valid UTF-8" in line for line in refused), text
    assert "Traceback" not in text
    # the linked notebook is refused for its student, with a notice, and never read
    journal = ex.journal()
    mira = journal.of_student("mira", A)
    assert [e.state for e in mira] == ["closed"] and mira[0].notice == "refused"
    assert journal.refused() >= {fifo.name, zero.name, stolen.name}
    journal.close()
    # nothing a link pointed at reached the course or the service's state
    assert GRADER_ONLY.encode() not in everything_under(ex.course.root)
    assert GRADER_ONLY.encode() not in everything_under(ex.root / ex.course.coursedir.course_id / "feedback")

    # A second run looks at the refused folders no more (one line each, ever) and still exits at once.
    again = subprocess.run([*ex.command(workers=1), "--once"], capture_output=True, text=True, cwd=REPOSITORY,
                           timeout=300)
    assert again.returncode == 0 and ": refused, not graded: " not in again.stdout, again.stdout


def test_the_service_stops_on_sigterm_with_a_fifo_in_inbound(tmp_path):
    ex = Exchange(tmp_path)
    ex.submit("alice", ex.release_nb)
    template = next(inbound(ex).iterdir())
    fifo = plant(ex, template, "mallory", "fifo")
    (fifo / "submission_secret.txt").unlink()
    os.mkfifo(fifo / "submission_secret.txt")
    log = tmp_path / "serve.log"
    service = ex.start(log, workers=1)
    try:
        wait_for(lambda: "alice" in log.read_text() and "after submitting" in log.read_text(), 400, "alice graded")
        assert "mallory+" in log.read_text()
        service.terminate()
        assert service.wait(timeout=120) == 0
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()


def test_many_submissions_of_one_student_delay_anothers_first_by_at_most_one_grading(tmp_path):
    assignments = ["01-linear-classifier", A, "03-backprop-errors", "04-linear-network-by-hand", "05-mnist"]
    ex = Exchange(tmp_path, **{"InstantFeedback.assignments": assignments,
                               "InstantFeedback.max_gradings_per_hour": 3,
                               "InstantFeedback.max_gradings_per_student": 6})
    ex.submit("hog", ex.release_nb)
    template = next(inbound(ex).iterdir())
    for assignment in assignments:   # 15 submissions across five assignments, all waiting at once
        for n in range(3):
            _, _, timestamp = service_exchange.parse_name(template.name)
            folder = template.with_name(f"hog+{assignment}+{timestamp}+{assignment}{n}")
            if folder != template:
                shutil.copytree(template, folder)
                (folder / "submission_secret.txt").write_text(secrets.token_hex(16))
    shutil.rmtree(template)
    time.sleep(0.05)
    ex.submit("bea", ex.solved())   # one submission, after all of hog's

    service = Service(ex.course, workers=1, out=open(tmp_path / "serve.log", "w"))
    service.recover()
    try:
        def bea_released() -> bool:
            service.tick()
            return any(e.state == "released" for e in service.journal.of_student("bea", A))
        wait_for(bea_released, 900, "bea's feedback")
    finally:
        if service._pool:
            service._pool.shutdown(wait=True, cancel_futures=True)
    dispatched = [name for name, event, _, _ in service.journal.events() if event == "dispatched"]
    bea_at = next(i for i, name in enumerate(dispatched) if name.startswith("bea+"))
    assert bea_at <= 1, dispatched   # at most one of hog's gradings before bea's
    assert "Score:" in ex.latest_feedback("bea")
    service.journal.close()
