"""The course on a real JupyterHub, end to end, in Chromium.

One hub for the module, brought up as ``course hub --trial`` brings it up
(:class:`autograder.apps.hub.Trial`): Debian's configurable-http-proxy, PAM
login for real Unix accounts (``nn22-*``, removed at the end), the local
process spawner starting each student's server as that student from the
student environment, formgrader as a hub service for the TA group, and
``course serve`` grading each submission from nbgrader's exchange.

Students log in on the hub's login page, fetch 02-signals from the
Assignment List, answer it in JupyterLab (correct / the typical mistake /
blank), run it, submit, fetch their feedback and read their score; the
scores must be ``course grade``'s for the same notebooks. The TA grades a
written answer in formgrader and ``course export`` has it. Students are
refused the instructor's side. The hub is restarted while a submission is
being graded, and the feedback still comes.

Screenshots go to ``benchmarks/results/hub/`` (git-ignored), and the seconds
from *Submit* to feedback per student to ``benchmarks/results/hub/feedback-times.txt``.
"""

from __future__ import annotations

import csv
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.apps import hub as hub_app
from autograder.course import REPOSITORY, Course
from autograder.demo import typical_mistake
from autograder.grading_session import fill_solutions

from tests.browser import CHROMIUM, chromium
from tests.conftest import requires

pytestmark = [
    pytest.mark.hub,
    pytest.mark.browser,
    requires("root", os.geteuid() == 0, "a hub with real Unix users needs root"),
    requires("Chromium", Path(CHROMIUM).exists(), "./course installs it"),
    requires("configurable-http-proxy", Path(hub_app.PROXY).exists(), "./course installs it"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

PREFIX = "nn22"
A = "02-signals"
WRITTEN = "03-backprop-errors"
SHOTS = REPOSITORY / "benchmarks" / "results" / "hub"
WRITTEN_ANSWER = ("Every link still gets blame in proportion to its weight, so the signs and the relative sizes "
                  "stay; only one scale factor per output node is lost, and the learning rate absorbs it.")


def course_accounts(prefix: str) -> list[str]:
    return [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()
            if line.startswith(f"{prefix}-")]


@pytest.fixture(scope="module")
def hub():
    before = course_accounts(PREFIX)
    assert not before, f"accounts of an earlier run are left: {before} (userdel -r them)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with hub_app.Trial(prefix=PREFIX, assignments=[A, WRITTEN], say=lambda line: None) as trial:
        yield trial
    assert course_accounts(PREFIX) == [], "the trial left accounts behind"
    assert not trial.state.exists()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def answers():
    """Each solution cell's index in the released notebook, and what each student types there."""
    release = nbformat.read(str(REPOSITORY / "release" / A / "signals.ipynb"), as_version=4)
    source = nbformat.read(str(REPOSITORY / "source" / A / "signals.ipynb"), as_version=4)
    mistake = typical_mistake(A)
    correct = fill_solutions(release, source)
    wrong = fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]})
    cells = [i for i, cell in enumerate(release.cells) if cell.metadata.get("nbgrader", {}).get("solution")]
    return {"correct": {i: correct.cells[i].source for i in cells},
            "mistake": {i: wrong.cells[i].source for i in cells},
            "blank": {}}


# -- what a person does in the browser ---------------------------------------------------

def log_in(browser, trial, account):
    """A fresh browser session; the hub's login page; the student's JupyterLab."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{trial.url}/hub/login")
    page.fill("input#username_input", account.login)
    page.fill("input#password_input", account.password)
    page.click("#login_submit")
    return context, page


def open_assignment_list(page) -> None:
    page.wait_for_selector(".jp-LabShell", timeout=240_000)
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.get_by_text("Assignment List").click()
    page.wait_for_selector("#released_assignments_list", timeout=60_000)


def show_assignments(page) -> None:
    page.get_by_role("tab", name="Assignments").click()


def fetch_and_open(page, assignment: str, notebook: str) -> None:
    released = page.locator("#released_assignments_list .list_item", has_text=assignment)
    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list > .list_item", has_text=assignment)
    fetched.locator("a.assignment-notebooks-link").click(timeout=60_000)
    fetched.locator(".nested_list_item a", has_text=notebook).click()
    page.wait_for_selector(".jp-NotebookPanel:visible .jp-Cell", timeout=60_000)
    page.wait_for_selector(f"{IDLE}, .jp-Dialog", timeout=180_000)
    accept_kernel_choice(page)
    kernel_idle(page)


def accept_kernel_choice(page) -> None:
    """JupyterLab asks which kernel when the notebook's has not started yet: the default is right."""
    choose = page.locator(".jp-Dialog", has_text="Select Kernel")
    if choose.count():
        choose.get_by_role("button", name="Select").click()


IDLE = ".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']"


def kernel_idle(page, timeout: int = 180_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout)


def type_into_cell(page, index: int, text: str, markdown: bool = False) -> None:
    """Click into the cell's editor, select all, and type the answer (as inserted text: no auto-indent)."""
    accept_kernel_choice(page)
    cell = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    if markdown:
        cell.dblclick()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def run_all_and_save(page) -> None:
    accept_kernel_choice(page)
    page.get_by_role("menuitem", name="Run").click()
    page.get_by_text("Run All Cells", exact=True).click()
    time.sleep(2)
    if page.locator(".jp-Dialog", has_text="Select Kernel").count():
        accept_kernel_choice(page)
        page.get_by_role("menuitem", name="Run").click()
        page.get_by_text("Run All Cells", exact=True).click()
        time.sleep(2)
    kernel_idle(page)
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        page.screenshot(path=str(SHOTS / "unexpected-dialog.png"))
        pytest.fail(f"JupyterLab shows a dialog: {dialog.first.inner_text()[:500]}")
    page.get_by_role("menuitem", name="File").click()
    page.get_by_text("Save Notebook", exact=True).first.click()
    page.wait_for_selector(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)", timeout=30_000)
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, "the notebook was not saved"


def submit(page, assignment: str) -> float:
    show_assignments(page)
    page.locator("#fetched_assignments_list > .list_item", has_text=assignment).get_by_role(
        "button", name="Submit").click()
    submitted = time.time()
    page.locator("#submitted_assignments_list .list_item", has_text=assignment).first.wait_for(timeout=60_000)
    return submitted


def read_feedback(page, assignment: str, notebook: str) -> str:
    """Fetch Feedback, *(view feedback)* in the Assignment List, open the page there; its text."""
    item = page.locator("#submitted_assignments_list > .list_item", has_text=assignment)
    item.get_by_role("button", name="Fetch Feedback").click()
    link = item.get_by_text("(view feedback)").first
    link.wait_for(timeout=60_000)
    link.click()    # the file browser goes to ~/<course>/<assignment>/feedback/<time>/
    page.locator(".jp-DirListing-item", has_text=f"{notebook}.html").first.dblclick(timeout=60_000)
    body = page.frame_locator(".jp-HTMLViewer:visible iframe").locator("body")
    body.locator("h4").first.wait_for(timeout=60_000)
    return body.inner_text()


def released_feedback(trial, student: str, assignment: str, notebook: str) -> Path | None:
    """The student's feedback page in the exchange (named as nbgrader's fetch_feedback looks for it)."""
    from nbgrader.utils import notebook_hash

    inbound = trial.exchange / trial.course_id / "inbound"
    for folder in inbound.glob(f"{student}+{assignment}+*"):
        secret = (folder / "submission_secret.txt").read_text()
        page = trial.exchange / trial.course_id / "feedback" / f"{notebook_hash(secret=secret, notebook_id=notebook)}.html"
        if page.exists():
            return page
    return None


def wait_for_feedback(trial, student: str, assignment: str, notebook: str, timeout: float = 600) -> float:
    """When the feedback reached the exchange (its file's time), waiting for it if need be."""
    deadline = time.monotonic() + timeout
    while (page := released_feedback(trial, student, assignment, notebook)) is None:
        if time.monotonic() > deadline:
            log = (trial.state / "serve.log").read_text()[-3000:]
            pytest.fail(f"no feedback for {student} within {timeout:.0f} s; course serve said:\n{log}")
        time.sleep(0.5)
    return page.stat().st_mtime


SCORE = re.compile(r"\(Score: ([\d.]+) / ([\d.]+)\)")


# -- the tests ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def class_session(hub, browser, answers):
    """Three students fetch, answer, run, submit and read their feedback; the hub restarts once."""
    students = hub.accounts.students()
    kinds = dict(zip((s.login for s in students), ("correct", "mistake", "blank")))
    pages, submitted, arrived, shown = {}, {}, {}, {}
    for student in reversed(students):   # the correct answer, slowest to grade, goes last
        context, page = log_in(browser, hub, student)
        open_assignment_list(page)
        fetch_and_open(page, A, "signals")
        for index, text in answers[kinds[student.login]].items():
            type_into_cell(page, index, text)
        run_all_and_save(page)
        if kinds[student.login] == "correct":
            page.get_by_text("✔ query on the three-layer example").first.wait_for(timeout=60_000)
        pages[student.login] = page
        if student is students[0]:
            # course serve is paused before the last submission, so that however fast it grades, the hub
            # is surely down before that submission's feedback can be out.
            os.kill(hub.serve.pid, signal.SIGSTOP)
        submitted[student.login] = submit(page, A)
    # The hub goes down while the last submission waits and is graded, and comes back.
    last = students[0].login
    servers_before = {s.login: hub_app.processes_of(pwd.getpwnam(s.login).pw_uid) for s in students}
    try:
        hub.stop_hub()
        restarted_while_grading = released_feedback(hub, last, A, "signals") is None
    finally:
        os.kill(hub.serve.pid, signal.SIGCONT)
    time.sleep(3)   # course serve takes the submission in and grades it while the hub is away
    hub.start_hub()
    for student in students:
        arrived[student.login] = wait_for_feedback(hub, student.login, A, "signals")
    servers_after = {s.login: hub_app.processes_of(pwd.getpwnam(s.login).pw_uid) for s in students}
    for student in students:
        page = pages[student.login]
        # While the hub was away, JupyterLab said the server was unreachable; the student reloads.
        page.reload()
        open_assignment_list(page)
        shown[student.login] = read_feedback(page, A, "signals")
        page.screenshot(path=str(SHOTS / f"feedback-{kinds[student.login]}.png"))
        show_assignments(page)
        page.screenshot(path=str(SHOTS / f"assignment-list-{kinds[student.login]}.png"))
    times = {s: arrived[s] - submitted[s] for s in submitted}
    (SHOTS / "feedback-times.txt").write_text("".join(
        f"{s} ({kinds[s]}): feedback in the exchange {t:.1f} s after pressing Submit\n" for s, t in times.items()))
    yield {"kinds": kinds, "shown": shown, "times": times, "pages": pages,
           "restarted_while_grading": restarted_while_grading, "last": last,
           "servers": (servers_before, servers_after)}
    for page in pages.values():
        page.context.close()


def test_three_students_submit_in_the_browser_and_read_their_own_scores_as_course_grade_gives_them(
        hub, class_session, tmp_path):
    kinds, shown = class_session["kinds"], class_session["shown"]
    scores = {}
    for student, text in shown.items():
        found = SCORE.search(text)
        assert found, f"no score on {student}'s feedback page: {text[:500]}"
        scores[student] = (float(found[1]), float(found[2]))
        assert student not in [s for s in shown if s != student and s in text], "another student's name shown"
    by_kind = {kinds[s]: score for s, score in scores.items()}
    assert by_kind["correct"][0] == by_kind["correct"][1] > 0
    assert 0 < by_kind["mistake"][0] < by_kind["mistake"][1]
    assert by_kind["blank"][0] == 0
    mistake_student = next(s for s, k in kinds.items() if k == "mistake")
    assert "three_layer" in shown[mistake_student] or "three-layer" in shown[mistake_student]
    # The same notebooks, graded by `course grade` in a course folder of its own.
    folder = tmp_path / "submissions"
    for student in shown:
        target = folder / student / A
        target.mkdir(parents=True)
        shutil.copy(hub.grading_root / "submitted" / student / A / "signals.ipynb", target / "signals.ipynb")
    root = tmp_path / "grading"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", A, str(folder), "--root", str(root)],
                         capture_output=True, text=True, cwd=REPOSITORY, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    with Course(root).gradebook() as gradebook:
        graded = {s: gradebook.find_submission(A, s).score for s in shown}
    assert graded == {s: score for s, (score, _) in scores.items()}
    print("\n" + (SHOTS / "feedback-times.txt").read_text())


def test_the_hub_restarts_while_a_submission_is_graded_and_its_feedback_still_arrives(class_session):
    assert class_session["restarted_while_grading"], "the feedback was out before the hub went down"
    before, after = class_session["servers"]
    for student, processes in before.items():   # the students' servers (and kernels) outlived the hub
        assert processes and set(processes) <= set(after[student]), student
    assert SCORE.search(class_session["shown"][class_session["last"]])


def test_a_ta_grades_a_written_answer_in_formgrader_through_the_hub_and_export_has_it(hub, browser, class_session,
                                                                                      tmp_path):
    # A student hands in the assignment with written answers (the first one answered).
    student = hub.accounts.students()[0]
    page = class_session["pages"][student.login]
    show_assignments(page)
    page.reload()
    open_assignment_list(page)
    fetch_and_open(page, WRITTEN, "backprop_errors")
    release = nbformat.read(str(REPOSITORY / "release" / WRITTEN / "backprop_errors.ipynb"), as_version=4)
    index = next(i for i, c in enumerate(release.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "normalisation_answer")
    type_into_cell(page, index, WRITTEN_ANSWER, markdown=True)
    run_all_and_save(page)
    submit(page, WRITTEN)
    wait_for_feedback(hub, student.login, WRITTEN, "backprop_errors")

    ta = hub.accounts.ta()
    context, formgrader = log_in(browser, hub, ta)
    formgrader.wait_for_selector(".jp-LabShell", timeout=240_000)
    formgrader.goto(f"{hub.formgrader_url}/gradebook/{A}/signals")
    formgrader.wait_for_selector("table tbody tr td", timeout=60_000)
    formgrader.wait_for_function("document.querySelectorAll('table tbody tr').length >= 3", timeout=60_000)
    listing = formgrader.inner_text("table")   # blind, as nbgrader lists them: "Submission #1" …
    for text in class_session["shown"].values():
        score, points = SCORE.search(text).groups()
        assert f"{float(score):g} / {float(points):g}" in listing, listing
    formgrader.screenshot(path=str(SHOTS / "formgrader-submissions.png"))
    formgrader.goto(f"{hub.formgrader_url}/manage_submissions/{A}")
    formgrader.wait_for_function("document.querySelectorAll('table tbody tr').length >= 3", timeout=60_000)
    named = formgrader.inner_text("table")
    for login in class_session["kinds"]:
        assert login in named, named

    with Course(hub.grading_root).gradebook() as gradebook:
        submission = gradebook.find_submission_notebook("backprop_errors", WRITTEN, student.login).id
    opened = formgrader.goto(f"{hub.formgrader_url}/submissions/{submission}")
    if not opened.ok:
        log = (hub.state / "hub.log").read_text(errors="replace")[-4000:]
        pytest.fail(f"formgrader answered {opened.status} for the submission; the hub's log ends:\n{log}")
    formgrader.wait_for_selector("input.score#normalisation_answer", timeout=60_000)
    assert "Rubric for" in formgrader.inner_text("body") and "normalisation_answer" in formgrader.inner_text("body")
    assert WRITTEN_ANSWER[:40] in formgrader.inner_text("body")
    score = formgrader.locator("input.score#normalisation_answer")
    score.scroll_into_view_if_needed()
    score.fill("2")
    score.press("Tab")
    formgrader.wait_for_timeout(1500)
    formgrader.screenshot(path=str(SHOTS / "formgrader-rubric.png"))
    deadline = time.monotonic() + 30
    while True:
        with Course(hub.grading_root).gradebook() as gradebook:
            grade = gradebook.find_grade("normalisation_answer", "backprop_errors", WRITTEN, student.login)
            manual = grade.manual_score
        if manual == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert manual == 2, "formgrader did not save the manual grade"
    context.close()

    out = tmp_path / "grades.csv"
    run = subprocess.run([sys.executable, "-m", "autograder", "export", WRITTEN, "--root", str(hub.grading_root),
                          "--to", str(out)], capture_output=True, text=True, cwd=REPOSITORY, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    with out.open() as f:
        row = next(r for r in csv.DictReader(f) if r["student_id"] == student.login)
    with Course(hub.grading_root).gradebook() as gradebook:
        auto = gradebook.find_submission(WRITTEN, student.login).score - 2
    assert float(row["raw_score"]) == pytest.approx(auto + 2)
    cells = (hub.grading_root / f"grades-{WRITTEN}-cells.csv").read_text()
    assert "normalisation_answer" in cells


def _as(login: str, code: str) -> subprocess.CompletedProcess:
    """Run Python as *login* (a real Unix user), with the student environment's interpreter."""
    python = hub_app.student_env.python_of(hub_app.student_env.DEFAULT_PREFIX)
    return subprocess.run(["runuser", "-u", login, "--", str(python), "-c", code],
                          capture_output=True, text=True, timeout=60, cwd="/")


def test_a_student_is_refused_formgrader_the_ta_folder_other_homes_and_other_submissions(hub, browser,
                                                                                         class_session):
    amy, ben = (s.login for s in hub.accounts.students()[:2])
    page = class_session["pages"][ben]
    request = page.context.request
    # Through the hub: formgrader (the service and the student's own server), another student's server.
    refused = request.get(hub.formgrader_url)
    assert refused.status == 403, (refused.status, refused.url)
    assert request.get(f"{hub.url}/user/{ben}/formgrader").status == 404
    assert request.get(f"{hub.url}/user/{amy}/lab").status in (403, 404)
    assert request.get(f"{hub.url}/user/{amy}/api/contents").status in (403, 404)
    assert request.get(f"{hub.url}/user/{ben}/api/contents/..%2F{amy}").status in (400, 403, 404)
    # As the student's Unix user (what a kernel or terminal of theirs can do).
    inbound = hub.exchange / hub.course_id / "inbound"
    theirs = next(inbound.glob(f"{amy}+{A}+*"))
    for code in (f"import os; os.listdir({str(hub.grading_root)!r})",
                 f"open({str(hub.grading_root / 'gradebook.db')!r}, 'rb')",
                 f"os.listdir({pwd.getpwnam(amy).pw_dir!r})",
                 f"import os; os.listdir({str(inbound)!r})",
                 f"import os; os.listdir({str(hub.exchange / hub.course_id / 'feedback')!r})",
                 f"import os; os.rename({str(theirs)!r}, {str(inbound / (ben + theirs.name[len(amy):]))!r})",
                 f"open({str(theirs / 'signals.ipynb')!r}, 'w')"):
        result = _as(ben, code if code.startswith("import") else "import os; " + code)
        assert result.returncode != 0 and "PermissionError" in result.stderr, (code, result.stdout, result.stderr)
    assert theirs.is_dir() and (theirs / "signals.ipynb").is_file(), "amy's submission was changed"
    # nbgrader leaves a submission folder open (0777) for the instructor and hides it by its name:
    # a timestamp and 12 random characters nobody can list (inbound/ is 2733).
    assert len(theirs.name.rsplit("+", 1)[1]) >= 12
    with Course(hub.grading_root).gradebook() as gradebook:
        assert gradebook.find_submission(A, amy).score == 12


def test_course_hub_trial_comes_up_and_goes_down_leaving_no_accounts(hub):
    prefix = f"{PREFIX}t"
    before = Path("/etc/passwd").read_text()
    trial = subprocess.Popen([sys.executable, "-m", "autograder", "hub", "--trial", "--prefix", prefix,
                              "--release", A, "--port", "0"], cwd=REPOSITORY, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in trial.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"JupyterHub is up at (\S+)/ ", text)
        assert url, text
        for name in ("amy", "ben", "cleo", "ta"):
            assert re.search(rf"{prefix}-{name}\s+\S+\s+(student|TA)", text), text
        assert f"{prefix}-amy" in Path("/etc/passwd").read_text()
        with urllib.request.urlopen(f"{url[1]}/hub/login", timeout=30) as page:
            assert page.status == 200 and b"password" in page.read().lower()
    finally:
        trial.send_signal(signal.SIGINT)
        rest, _ = trial.communicate(timeout=300)
    assert trial.returncode == 0, "".join(lines) + rest
    assert "demo accounts removed" in rest
    assert Path("/etc/passwd").read_text() == before
    assert not course_accounts(prefix)
