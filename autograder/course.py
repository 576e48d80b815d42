"""A course folder and nbgrader's own apps, driven from Python.

:class:`Course` loads the course's ``nbgrader_config.py``, points it at a
course root and runs nbgrader's apps (through ``NbGraderAPI`` and its
converters) for one assignment or student at a time. Nothing here
re-implements what nbgrader does; it only strings the steps together.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import GenerateSolution
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import CsvExportPlugin
from nbgrader.utils import capture_log
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

#: The repository that holds the course: source notebooks, config, keys.
REPOSITORY = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPOSITORY / "nbgrader_config.py"

#: The TA's course folder (gradebook, submitted/, autograded/, feedback/, grades),
#: kept outside the repository so an instructor's edit never meets a TA's
#: gradebook. This is the one place it is named: ``$NN_COURSE_GRADING_ROOT``,
#: else ``~/nn-course-grading``; ``course grade --root`` picks another.
GRADING_ROOT_VARIABLE = "NN_COURSE_GRADING_ROOT"
DEFAULT_GRADING_ROOT = Path("~/nn-course-grading")


def grading_root() -> Path:
    """The TA's default course folder (see :data:`GRADING_ROOT_VARIABLE`)."""
    return Path(os.environ.get(GRADING_ROOT_VARIABLE) or DEFAULT_GRADING_ROOT).expanduser().resolve()


_GRADING_CONFIG = '''"""nbgrader config of a TA's course folder: the course's own, with this folder as root."""
import os

from autograder.formgrader_guard import guard_formgrader

c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
guard_formgrader()  # in JupyterLab here, formgrader grades: the instructor's source/ is read-only
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)
'''


def prepare_grading_root(root: Path | str) -> Path:
    """Make *root* a course folder: ``source/`` links to the repository's, and an
    ``nbgrader_config.py`` that loads the course's (so ``jupyter lab`` there opens
    formgrader on this folder's gradebook). Existing files are left alone."""
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    if root == REPOSITORY:
        return root
    source = root / "source"
    if not source.exists() and not source.is_symlink():
        source.symlink_to(REPOSITORY / "source", target_is_directory=True)
    config = root / "nbgrader_config.py"
    ours = _GRADING_CONFIG.format(config=str(CONFIG_FILE))
    if not config.exists() or (config.read_text().startswith(ours.splitlines()[0]) and
                               "guard_formgrader" not in config.read_text()):
        config.write_text(ours)   # new, or written by an earlier version of this function
    return root


class CourseError(RuntimeError):
    """An nbgrader step failed; the message carries nbgrader's own log."""


class CellsChangedError(CourseError):
    """nbgrader refuses to add or remove graded cells of an assignment with submissions."""

    def __init__(self, assignment: str, root: Path):
        self.assignment, self.root = assignment, root
        super().__init__(
            f"{assignment} has graded submissions in the gradebook of {root}, and nbgrader cannot add or remove "
            f"cells of such an assignment; release the change as a new assignment (copy source/{assignment} to "
            f"source/{assignment}-v2), or regrade the class with it: course grade {assignment} --update-assignment")


class _NbgraderNoise(logging.Filter):
    """Drop log lines that tell a TA nothing they can act on.

    - "Attribute 'checksum' for cell … has changed": nbgrader says it for every
      test cell with hidden tests (the gradebook keeps the checksum of the cell
      *with* them; the release has them removed). The cell is restored anyway.
    - "Released assignments:": the exchange check of NbGraderAPI, on every start.
    - "Removing existing assignment: …": nbgrader replacing a folder it regenerates.
    - nbconvert's notes while writing feedback HTML.
    """

    PREFIXES = ("Attribute 'checksum' for cell", "Released assignments:", "Removing existing assignment:",
                "Config option `display_data_priority` not recognized", "Alternative text is missing",
                "Late submission penalty:")   # GetGrades, on every late page: the CSV and the page say it

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIXES)


def _quiet(*loggers: logging.Logger) -> None:
    for logger in loggers:
        for target in [logger, *logger.handlers]:
            if not any(isinstance(f, _NbgraderNoise) for f in target.filters):
                target.addFilter(_NbgraderNoise())


def _put_environment_on_path() -> None:
    """nbgrader runs helpers such as ``alembic`` by name: find this environment's."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def load_config(root: Path, **overrides: object) -> Config:
    """The course config with its root set to *root* (plus dotted overrides).

    A TA's course folder made by :func:`prepare_grading_root` has an
    ``nbgrader_config.py`` of its own that loads the course's: when it is
    there, it is read instead, so what a TA sets in it (a PostgreSQL
    ``db_url``, a Dask scheduler) holds for ``course`` as for plain nbgrader.
    """
    own = Path(root).resolve() / CONFIG_FILE.name
    chosen = own if own.is_file() and own.resolve() != CONFIG_FILE.resolve() else CONFIG_FILE
    config = PyFileConfigLoader(chosen.name, path=str(chosen.parent)).load_config()
    config.CourseDirectory.root = str(Path(root).resolve())
    config.Application.log_level = "WARNING"
    if config.get("Exchange", {}).get("root") in (None, str(REPOSITORY / "exchange")):
        # Without a shared exchange (JupyterHub's /srv/nbgrader/exchange, say),
        # each course root keeps its own beside the gradebook.
        config.Exchange.root = str(Path(root).resolve() / "exchange")
        Path(config.Exchange.root).mkdir(parents=True, exist_ok=True)
    for dotted, value in overrides.items():
        section, name = dotted.rsplit(".", 1)
        config[section][name] = value
    if config.CourseDirectory.get("db_url"):  # postgresql:// → the installed driver (autograder.cluster.gradebook)
        from autograder.cluster.gradebook import normalise_url

        config.CourseDirectory.db_url = normalise_url(config.CourseDirectory.db_url)
    return config


@dataclass(frozen=True)
class Score:
    student: str
    assignment: str
    score: float
    max_score: float


class Course:
    """One course root: ``source/``, ``release/``, ``submitted/``, the gradebook…"""

    def __init__(self, root: Path | str = REPOSITORY, **overrides: object):
        _put_environment_on_path()
        self.root = Path(root).resolve()
        self.config = load_config(self.root, **overrides)
        self.coursedir = CourseDirectory(config=self.config)
        _quiet(logging.getLogger("traitlets"))
        self.api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        # nbgrader's step-by-step INFO log is kept in each result's "log";
        # on screen, only warnings and errors (``course -v`` shows everything).
        self.api.log.setLevel(logging.DEBUG if logging.getLogger().isEnabledFor(logging.INFO) else logging.WARNING)
        _quiet(self.api.log, logging.getLogger("traitlets"))

    # -- paths ---------------------------------------------------------------
    def path(self, kind: str, *parts: str) -> Path:
        return self.root / getattr(self.coursedir, f"{kind}_directory") / Path(*parts)

    def assignments(self) -> list[str]:
        """Assignment ids: the folders of ``source/`` that hold notebooks."""
        source = self.path("source")
        return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in self.path("source", assignment).glob("*.ipynb"))

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    def gradebook(self) -> Gradebook:
        return Gradebook(self.db_url, self.coursedir.course_id)

    # -- instructor steps ----------------------------------------------------
    def generate_release(self, assignment: str) -> Path:
        """``nbgrader generate_assignment``: the student version in ``release/``."""
        self._check(self.api.generate_assignment(assignment, force=True, create=True), "generate_assignment", assignment)
        return self.path("release", assignment)

    def generate_solution(self, assignment: str) -> Path:
        """``nbgrader generate_solution``: the executed handout in ``solutions/``."""
        coursedir = self.api.coursedir
        previous = coursedir.assignment_id
        coursedir.assignment_id = assignment
        try:
            app = GenerateSolution(coursedir=coursedir, parent=self.api)
            app.force = True
            self._check(capture_log(app), "generate_solution", assignment)
        finally:
            coursedir.assignment_id = previous
        return self.path("solution", assignment)

    # -- TA steps ------------------------------------------------------------
    def autograde(self, assignment: str, student: str) -> dict:
        """``nbgrader autograde`` for one submission; returns nbgrader's result."""
        return self.api.autograde(assignment, student, force=True, create=True)

    def generate_feedback(self, assignment: str, student: str | None = None) -> dict:
        return self.api.generate_feedback(assignment, student, force=True)

    def export_grades(self, destination: Path, assignments: list[str] | None = None) -> Path:
        """nbgrader's CSV export of the gradebook (of *assignments* only, if given).

        As in nbgrader, every student in the gradebook gets a row for every
        exported assignment; one who submitted nothing has score 0."""
        plugin = CsvExportPlugin(config=self.config)
        plugin.to = str(destination)
        plugin.assignment = list(assignments or [])
        with self.gradebook() as gradebook:
            plugin.export(gradebook)
        return Path(destination)

    def score(self, assignment: str, student: str) -> Score | None:
        with self.gradebook() as gradebook:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                return None
            return Score(student, assignment, submission.score, submission.max_score)

    def enrol(self, student: str) -> None:
        """Make sure *student* is in the gradebook (so the grades CSV lists them)."""
        with self.gradebook() as gradebook:
            gradebook.update_or_create_student(student)

    def max_score(self, assignment: str) -> float:
        with self.gradebook() as gradebook:
            return gradebook.find_assignment(assignment).max_score

    def cell_scores(self, assignment: str, student: str) -> dict[str, tuple[float, float]]:
        """grade id → (score, max score) for every graded cell of a submission."""
        result: dict[str, tuple[float, float]] = {}
        with self.gradebook() as gradebook:
            submission = gradebook.find_submission(assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    result[grade.name] = (grade.score, grade.max_score)
        return result

    # -- helpers -------------------------------------------------------------
    def forget_assignment(self, assignment: str) -> int:
        """Remove *assignment* and its submissions' grades from the gradebook
        (``nbgrader db assignment remove --force``); submitted/ stays. Returns
        how many submissions were forgotten."""
        with self.gradebook() as gradebook:
            try:
                count = len(gradebook.find_assignment(assignment).submissions)
            except MissingEntry:
                return 0
            gradebook.remove_assignment(assignment)
        return count

    def _check(self, result: dict, step: str, assignment: str) -> None:
        if not result.get("success"):
            if "Cannot add or remove cells" in f"{result.get('log', '')}{result.get('error', '')}":
                raise CellsChangedError(assignment, self.root)
            raise CourseError(f"nbgrader {step} failed for {assignment}:\n{result.get('log', '')}\n{result.get('error', '')}")
