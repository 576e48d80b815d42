"""``course release ASSIGNMENT``: put an assignment on nbgrader's exchange for students to fetch.

nbgrader's ``release_assignment`` works only in a course folder whose
``release/<assignment>`` was generated there (else it fails with a bare
"release_assignment failed"). This command runs in the TA's course folder:
it generates the student version there with nbgrader's ``generate_assignment``
(which also enters the assignment in the gradebook, so the instant-feedback
service and formgrader know it), then releases it with nbgrader's
``ExchangeReleaseAssignment`` and says where students find it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nbgrader.utils import capture_log, temp_attrs

from autograder.apps.arguments import UsageError, check_assignment
from autograder.course import Course, grading_root, prepare_grading_root


@dataclass(frozen=True)
class Released:
    assignment: str
    course_id: str
    outbound: Path
    notebooks: list[str]

    def summary(self) -> str:
        return (f"released {self.assignment} ({', '.join(self.notebooks)}) to {self.outbound}\n"
                f"students: JupyterLab > Nbgrader > Assignment List > {self.course_id} > {self.assignment} > Fetch "
                f"(or: nbgrader fetch_assignment --course {self.course_id} {self.assignment})")


def _prepare_exchange(exchange: Path) -> None:
    """The exchange root as nbgrader wants it (0777), with the sticky bit (see :func:`protect`)."""
    if not exchange.parent.is_dir():
        raise UsageError(f"no folder {exchange.parent} for the exchange {exchange}; create it or pass --exchange")
    if not exchange.exists():
        exchange.mkdir()
        os.chmod(exchange, 0o1777)


def protect(exchange: Path, course_id: str) -> None:
    """The sticky bit on the folders every student may write (the exchange root, inbound/).

    nbgrader makes both writable by everyone (0777, 0733) so any student can
    create a submission; without the sticky bit a student could also rename or
    remove another student's submission, or the course's folder itself.
    """
    for folder in (exchange, exchange / course_id / "inbound"):
        if folder.is_dir():
            os.chmod(folder, folder.stat().st_mode | stat.S_ISVTX)


def _release(course: Course, assignment: str, force: bool) -> dict:
    """nbgrader's ``release_assignment`` (the exchange class the config names), with its --force."""
    api = course.api
    with temp_attrs(api.coursedir, assignment_id=assignment):
        app = api.exchange.ReleaseAssignment(coursedir=api.coursedir, authenticator=api.authenticator, parent=api)
        app.force = force
        return capture_log(app)


def run(*, assignment: str, root: str | None = None, exchange: str | None = None, force: bool = False) -> Released:
    """Generate *assignment* in the TA folder *root* and release it to the exchange."""
    root = root or str(grading_root())
    check_assignment(assignment, root)
    overrides: dict = {}
    if exchange:
        exchange_root = Path(exchange).expanduser().resolve()
        _prepare_exchange(exchange_root)
        overrides["Exchange.root"] = str(exchange_root)
    course = Course(prepare_grading_root(root), **overrides)
    from autograder.release_changes import check_can_grade

    check_can_grade(course, assignment, update=False)   # nbgrader refuses new cells once there are submissions
    course.generate_release(assignment)
    result = _release(course, assignment, force)
    if not result["success"]:
        log = result.get("log") or result.get("error") or ""
        if "already exists" in log:
            raise UsageError(f"{assignment} is already on the exchange; add --force to release it again "
                             "(students who fetched it keep their copy)")
        raise UsageError(f"nbgrader could not release {assignment}: {log.strip().splitlines()[-1] if log else '?'}")
    course_id = course.coursedir.course_id
    protect(Path(course.config.Exchange.root), course_id)
    outbound = Path(course.config.Exchange.root) / course_id / "outbound" / assignment
    # nbgrader makes inbound/ writable by all (students submit into it); the exchange root
    # itself stays the grader's. Check the student side can read what was released.
    for part in [outbound, *outbound.parents]:
        if part == Path(part.anchor):
            break
        if not os.stat(part).st_mode & stat.S_IXOTH:
            raise UsageError(f"released, but students cannot reach {part} (mode {os.stat(part).st_mode & 0o777:o}): "
                             f"chmod o+rx {part}")
    return Released(assignment, course_id, outbound, sorted(p.name for p in outbound.glob("*.ipynb")))


def add_parser(sub) -> None:
    """``course release``'s arguments (the CLI only parses, then calls :func:`run`)."""
    p = sub.add_parser("release", help="generate an assignment in the TA folder and release it on nbgrader's "
                                       "exchange for students to fetch (TA)")
    p.add_argument("assignment")
    p.add_argument("--root", default=None, help="the TA's course folder (default: $NN_COURSE_GRADING_ROOT "
                                                "or ~/nn-course-grading)")
    p.add_argument("--exchange", help="nbgrader's exchange root, e.g. /srv/nbgrader/exchange "
                                      "(default: Exchange.root of the TA folder's nbgrader_config.py)")
    p.add_argument("--force", action="store_true", help="release again, replacing what is on the exchange")
    p.set_defaults(func=lambda args: print(run(assignment=args.assignment, root=args.root, exchange=args.exchange,
                                               force=args.force).summary()) or 0)
